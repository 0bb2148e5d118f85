# segflow as a container: a wheel built in one stage, installed into a slim image that runs as a non-root
# user. Health is the gRPC health service (`segflow health`). Build: docker build -t segflow .
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY protos protos
COPY rules rules
COPY server server
COPY clients/python/client clients/python/client
# scale: Redis and PostgreSQL; otel: OpenTelemetry spans, exported when --otel-exporter (or OTEL_TRACES_EXPORTER) says.
RUN pip wheel --no-cache-dir --wheel-dir /wheels '.[scale,otel]'

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /var/lib/segflow --create-home segflow
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels 'segflow[scale,otel]' && rm -rf /wheels
USER segflow
WORKDIR /var/lib/segflow
# Listening on every interface inside the container: put --auth-file and --tls-* in front of anything public.
ENV SEGFLOW_ADDRESS=0.0.0.0:50051 \
    SEGFLOW_DATA_DIR=/var/lib/segflow \
    SEGFLOW_LOG_FORMAT=json
EXPOSE 50051 9464
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["segflow", "health", "--target", "127.0.0.1:50051"]
ENTRYPOINT ["segflow"]
CMD ["serve"]
