# Image for the ptc_observe demo and the local Messages API emulator; docker-compose.yml runs
# both from it:
#   ptc-observe emulator --host 0.0.0.0 --port 8787
#   ptc-observe demo --host 0.0.0.0 --port 9464 --forever --emulator-url http://emulator:8787
# The package is installed with pip from this checkout, with the extras the demo needs
# (demo: the official SDK; emulator: its HTTP server; otlp: the OTLP trace exporter).
FROM python:3.12.8-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
# Only what the wheel is built from: a change in tests or docs does not invalidate this layer.
COPY pyproject.toml README.md ./
COPY ptc_observe ./ptc_observe
RUN pip install ".[demo,emulator,otlp]" \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin ptc

WORKDIR /home/ptc
USER ptc

# 8787: emulator (Messages API); 9464: demo /metrics (Prometheus, OpenMetrics with exemplars).
EXPOSE 8787 9464

ENTRYPOINT ["ptc-observe"]
CMD ["demo", "--host", "0.0.0.0", "--port", "9464", "--forever"]
