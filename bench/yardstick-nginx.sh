# bench/yardstick-nginx.sh: the config of a yardstick's own nginx (run.sh's
# "nginx static", rust.sh's proxy), the same apart from what it serves.
# Sourced; the caller defines as_svc.
#
#   yardstick_nginx_conf DIR WHO <<EOF
#       (upstream and server blocks, inside http {})
#   EOF
# writes DIR/nginx.conf: as many workers as the stack's nginx
# (TASKAPI_NGINX_WORKERS, default auto: one per CPU, as ./dev sets it), so
# that a yardstick and the stack differ only in what they serve; 4096
# connections, no access log, its pid, log and temp files under DIR.
yardstick_nginx_conf() { # dir who
	{
		cat <<-EOF
			# Written by $2.
			pid                  $1/nginx.pid;
			error_log            $1/error.log warn;
			worker_processes     ${TASKAPI_NGINX_WORKERS:-auto};
			worker_rlimit_nofile 8192;
			events {
			    worker_connections 4096;
			}
			http {
			    access_log off;
			    client_body_temp_path $1/client_body_temp;
			    fastcgi_temp_path     $1/fastcgi_temp;
			    proxy_temp_path       $1/proxy_temp;
			    scgi_temp_path        $1/scgi_temp;
			    uwsgi_temp_path       $1/uwsgi_temp;
			    keepalive_timeout 15s;
			    server_tokens off;
		EOF
		cat
		echo "}"
	} | as_svc sh -c "cat >'$1/nginx.conf'"
}
