# The CDS Hooks service under gunicorn. Build: docker build -t sclc-relapse-cds .
# Run:   docker run -p 8080:8080 -v sclc-feedback:/data sclc-relapse-cds
FROM debian:bookworm-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/*

# Only what the package needs (the knowledge base in cards/ is package data).
WORKDIR /src
COPY pyproject.toml README.md ./
COPY service ./service
COPY cards ./cards
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir /src \
    && rm -rf /src

RUN useradd --system --create-home --uid 10001 app \
    && mkdir /data && chown app /data
USER app
WORKDIR /home/app

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    SCLC_CDS_FEEDBACK_DB=/data/feedback.sqlite3
VOLUME /data
EXPOSE 8080

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]

# The app writes one JSON line per call to stderr; gunicorn's access log stays off.
CMD ["gunicorn", "-b", "0.0.0.0:8080", "-k", "gthread", "-w", "2", "--threads", "4", \
     "service:create_app()"]
