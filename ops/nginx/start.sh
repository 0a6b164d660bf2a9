#!/bin/sh
# Edge entrypoint (compose.yml, test/nginx.test.ts): renders nginx.conf.template and edge.conf.template
# into EDGE_RUN_DIR with the values below, then runs nginx in the foreground as PID 1 (SIGQUIT = graceful
# stop, see the compose stop_signal). Rendering at start keeps the root file system read-only and makes
# MAX_UPLOAD_BYTES the one source of the body limit for the edge and the app alike.
set -eu
: "${EDGE_CONF_DIR:=/etc/nginx/stowage}"
: "${EDGE_RUN_DIR:=/tmp/nginx}"
: "${EDGE_UPSTREAM:=api:3000}"
: "${EDGE_HTTP_PORT:=8080}"
: "${EDGE_HTTPS_PORT:=8443}"
: "${EDGE_SERVER_NAME:=_}"
: "${EDGE_TLS_CERT:=/run/secrets/tls_cert}"
: "${EDGE_TLS_KEY:=/run/secrets/tls_key}"
: "${EDGE_RATE:=20r/s}"
: "${EDGE_BURST:=40}"
: "${EDGE_CONN_PER_IP:=64}"
: "${EDGE_ACCESS_LOG:=/dev/stdout}"
: "${MAX_UPLOAD_BYTES:=52428800}"
# Multipart framing around the file: 1 MiB of slack, so the app's own 413 problem answers first.
EDGE_BODY_LIMIT=$((MAX_UPLOAD_BYTES + 1048576))

mkdir -p "$EDGE_RUN_DIR"
for name in nginx edge; do
  sed -e "s|\${EDGE_RUN_DIR}|$EDGE_RUN_DIR|g" \
    -e "s|\${EDGE_UPSTREAM}|$EDGE_UPSTREAM|g" \
    -e "s|\${EDGE_HTTP_PORT}|$EDGE_HTTP_PORT|g" \
    -e "s|\${EDGE_HTTPS_PORT}|$EDGE_HTTPS_PORT|g" \
    -e "s|\${EDGE_SERVER_NAME}|$EDGE_SERVER_NAME|g" \
    -e "s|\${EDGE_TLS_CERT}|$EDGE_TLS_CERT|g" \
    -e "s|\${EDGE_TLS_KEY}|$EDGE_TLS_KEY|g" \
    -e "s|\${EDGE_RATE}|$EDGE_RATE|g" \
    -e "s|\${EDGE_BURST}|$EDGE_BURST|g" \
    -e "s|\${EDGE_CONN_PER_IP}|$EDGE_CONN_PER_IP|g" \
    -e "s|\${EDGE_BODY_LIMIT}|$EDGE_BODY_LIMIT|g" \
    -e "s|\${EDGE_ACCESS_LOG}|$EDGE_ACCESS_LOG|g" \
    "$EDGE_CONF_DIR/$name.conf.template" >"$EDGE_RUN_DIR/$name.conf"
done
if grep -n '\${' "$EDGE_RUN_DIR/nginx.conf" "$EDGE_RUN_DIR/edge.conf"; then
  echo "edge: unrendered placeholders above" >&2
  exit 1
fi
nginx -t -q -p "$EDGE_RUN_DIR" -c "$EDGE_RUN_DIR/nginx.conf"
exec nginx -p "$EDGE_RUN_DIR" -c "$EDGE_RUN_DIR/nginx.conf" -g 'daemon off;'
