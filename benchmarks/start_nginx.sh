# Sourced by benchmark scripts: nginx on a free loopback port, serving files to POST requests
# (405 becomes the file), stopped when the script exits.
#   openai_stream TOKENS           prints an OpenAI-compatible event stream of TOKENS tokens
#   start_nginx WORK CONNECTIONS HTTP_EXTRA SERVER_EXTRA
#                                  WORK/www is the root; HTTP_EXTRA and SERVER_EXTRA are nginx
#                                  directives for the http and server blocks (listen flags go in
#                                  LISTEN_FLAGS, e.g. "ssl http2"); sets nginx_port and nginx_pid
openai_stream() {
  local c='"id":"chatcmpl-b","object":"chat.completion.chunk","created":1732000000,"model":"m"'
  printf 'data: {%s,"choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}\n\n' "$c"
  for i in $(seq 0 $(($1 - 1))); do
    printf 'data: {%s,"choices":[{"index":0,"delta":{"content":" tok%d"},"logprobs":null,"finish_reason":null}]}\n\n' "$c" "$i"
  done
  printf 'data: {%s,"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}\n\n' "$c"
  printf 'data: [DONE]\n\n'
}

start_nginx() {
  local work=$1 connections=$2 http_extra=$3 server_extra=$4
  local nginx
  nginx=$(command -v nginx || echo /usr/sbin/nginx)
  [ -x "$nginx" ] || { echo "nginx is needed (scripts/install-deps installs nginx-light)" >&2; exit 2; }
  mkdir -p "$work/www" "$work/tmp"
  nginx_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat >"$work/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
error_log $work/error.log warn;
pid $work/nginx.pid;
events { worker_connections $connections; }
http {
  client_body_temp_path $work/tmp/body;
  proxy_temp_path $work/tmp/proxy;
  open_file_cache max=16;  # one descriptor for the file, not one per request
  default_type text/event-stream;
  $http_extra
  server {
    listen 127.0.0.1:$nginx_port ${LISTEN_FLAGS:-};
    root $work/www;
    location / { error_page 405 =200 \$uri; }
    $server_extra
  }
}
CONF
  "$nginx" -p "$work" -c "$work/nginx.conf" >"$work/nginx.out" 2>&1 &
  nginx_pid=$!
  for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$nginx_port") 2>/dev/null && return; sleep 0.05; done
  echo "nginx did not start: $(cat "$work/error.log" "$work/nginx.out" 2>/dev/null)" >&2
  exit 1
}
