# tracker: the live server. Build: docker build -t tracker .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY tracker ./tracker
COPY seeds ./seeds
RUN pip install ".[postgres]" && useradd --system --home /data tracker && mkdir -p /data && chown tracker /data

USER tracker
WORKDIR /data
EXPOSE 8765
# TRACKER_DB picks the store (a file under /data by default, or postgresql://...);
# TRACKER_TOKEN, the write token, comes from the environment at run time, never the image.
ENV TRACKER_DB=/data/tracker.db
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8765/healthz', timeout=2).status != 200)"
CMD ["tracker", "serve", "--host", "0.0.0.0", "--port", "8765", "--log-json"]
