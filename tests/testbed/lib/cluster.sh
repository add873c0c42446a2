# shellcheck shell=bash
# Starting, checking and stopping the processes of one cluster: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kwok (the fake kubelet) and the waypoint stand-in.

TB_SERVICE_CIDR=10.96.0.0/16
TB_NODE_ANNOTATION=kwok.x-k8s.io/node

# start_component CLUSTER COMPONENT: start it unless it already runs.
start_component() {
	local c=$1 comp=$2 dir pki kc p
	dir=$(cluster_dir "$c")
	pki=$dir/pki
	kc=$dir/admin.kubeconfig
	[[ -n $(pid_of "$c" "$comp") ]] && return 0
	for p in $(component_ports "$c" "$comp"); do
		port_in_use "$p" && die "$c $comp: port $p is already in use by another process; set MTM_TESTBED_PORT_BASE to move this instance"
	done
	case $comp in
	etcd)
		local client peer
		client=http://127.0.0.1:$(port "$c" etcd-client)
		peer=http://127.0.0.1:$(port "$c" etcd-peer)
		start_proc "$c" etcd -- "$(bin_of etcd)" --name "$c" --data-dir "$dir/etcd-data" \
			--listen-client-urls "$client" --advertise-client-urls "$client" \
			--listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
			--initial-cluster "$c=$peer" --initial-cluster-state new \
			--unsafe-no-fsync --log-level warn
		;;
	kube-apiserver)
		start_proc "$c" kube-apiserver -- "$(bin_of kube-apiserver)" \
			--etcd-servers "http://127.0.0.1:$(port "$c" etcd-client)" \
			--bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$(port "$c" apiserver)" \
			--endpoint-reconciler-type none \
			--tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
			--client-ca-file "$pki/ca.crt" \
			--kubelet-client-certificate "$pki/kubelet-client.crt" --kubelet-client-key "$pki/kubelet-client.key" \
			--kubelet-certificate-authority "$pki/ca.crt" --kubelet-preferred-address-types InternalIP \
			--disable-admission-plugins TaintNodesByCondition \
			--service-account-issuer https://kubernetes.default.svc.cluster.local \
			--service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
			--service-cluster-ip-range "$TB_SERVICE_CIDR" \
			--authorization-mode Node,RBAC --allow-privileged=true \
			--profiling=false
		;;
	kube-controller-manager)
		# No node lifecycle controller: under load kwok's heartbeats can be late, and that
		# controller then marks every pod NotReady for good (kwok never sets it back).
		start_proc "$c" kube-controller-manager -- "$(bin_of kube-controller-manager)" \
			--kubeconfig "$kc" --authentication-kubeconfig "$kc" --authorization-kubeconfig "$kc" \
			--bind-address 127.0.0.1 --secure-port "$(port "$c" controller-manager)" \
			--leader-elect=false --use-service-account-credentials \
			--service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
			--cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
			--service-cluster-ip-range "$TB_SERVICE_CIDR" \
			--controllers='*,-node-lifecycle-controller' \
			--profiling=false
		;;
	kube-scheduler)
		start_proc "$c" kube-scheduler -- "$(bin_of kube-scheduler)" \
			--kubeconfig "$kc" --authentication-kubeconfig "$kc" --authorization-kubeconfig "$kc" \
			--bind-address 127.0.0.1 --secure-port "$(port "$c" scheduler)" \
			--leader-elect=false --profiling=false
		;;
	kwok)
		# HOME is moved so that no ~/.kwok/kwok.yaml of the user's changes the stages. kwok
		# serves the node's kubelet API on 127.0.0.1 (the Node's InternalIP and kubelet port),
		# where kube-apiserver sends exec; write_kwok_config maps exec to local commands.
		mkdir -p "$dir/kwok-home" "$dir/exec"
		write_kwok_config "$c"
		start_proc "$c" kwok HOME="$dir/kwok-home" -- "$(bin_of kwok)" --kubeconfig "$kc" \
			--config "$dir/kwok.yaml" \
			--manage-all-nodes=false \
			--manage-nodes-with-annotation-selector "$TB_NODE_ANNOTATION=fake" \
			--node-ip 127.0.0.1 --cidr 10.244.0.0/16 \
			--server-address "127.0.0.1:$(port "$c" kubelet)" --node-port "$(port "$c" kubelet)" \
			--tls-cert-file "$pki/kubelet.crt" --tls-private-key-file "$pki/kubelet.key"
		;;
	waypoint-standin)
		start_proc "$c" waypoint-standin -- "$(bin_of waypoint-standin)" --kubeconfig "$kc"
		;;
	esac
}

# write_kwok_config CLUSTER: kwok's configuration, one ClusterExec without a selector: exec
# into any container of any pod on the testbed's node runs the command on this host, as the
# user that started the testbed, in <cluster dir>/exec, with MTM_TESTBED_CLUSTER set. A
# stand-in for a container: the pod's image, filesystem and network are not involved.
write_kwok_config() {
	local c=$1 dir
	dir=$(cluster_dir "$c")
	cat >"$dir/kwok.yaml.tmp" <<YAML
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterExec
metadata:
  name: mtm-testbed-local-exec
spec:
  execs:
  - local:
      workDir: $dir/exec
      envs:
      - name: MTM_TESTBED_CLUSTER
        value: $c
YAML
	mv "$dir/kwok.yaml.tmp" "$dir/kwok.yaml"
}

# kubelet_serving CLUSTER: kwok answers on its kubelet port, with the CA's certificate.
kubelet_serving() {
	curl -fsS --max-time 2 --cacert "$(cluster_dir "$1")/pki/ca.crt" \
		"https://127.0.0.1:$(port "$1" kubelet)/healthz" | grep -qx ok
}

etcd_healthy() { curl -fsS --max-time 2 "http://127.0.0.1:$(port "$1" etcd-client)/health" | grep -q '"health":"true"'; }

apiserver_ready() {
	local pki
	pki=$(cluster_dir "$1")/pki
	curl -fsS --max-time 3 --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" \
		"https://127.0.0.1:$(port "$1" apiserver)/readyz" | grep -qx ok
}

node_name() { echo "$1-kwok-0"; }

node_ready() {
	[[ $(kubectl_c "$1" get node "$(node_name "$1")" \
		-o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) == True ]]
}

default_sa_exists() { kubectl_c "$1" -n default get serviceaccount default; }

# The one Node per cluster that kwok manages: picked by annotation, and without taints so
# that ordinary Deployments schedule onto it.
ensure_node() {
	local c=$1 n
	n=$(node_name "$c")
	kubectl_c "$c" get node "$n" >/dev/null 2>&1 && return 0
	kubectl_c "$c" apply --server-side --field-manager mtm-testbed -f - >/dev/null <<YAML
apiVersion: v1
kind: Node
metadata:
  name: $n
  annotations:
    $TB_NODE_ANNOTATION: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    type: kwok
    kubernetes.io/hostname: $n
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    node-role.kubernetes.io/agent: ""
spec: {}
YAML
}

# The Node's kubelet endpoint, where kube-apiserver sends exec. kwok sets it when it first
# initialises the Node; a Node that kwok initialised before it served the kubelet API gets
# it here.
ensure_kubelet_endpoint() {
	local c=$1 n p
	n=$(node_name "$c")
	p=$(port "$c" kubelet)
	[[ $(kubectl_c "$c" get node "$n" -o jsonpath='{.status.daemonEndpoints.kubeletEndpoint.Port}') == "$p" ]] && return 0
	kubectl_c "$c" patch node "$n" --subresource status --type merge \
		-p "{\"status\":{\"daemonEndpoints\":{\"kubeletEndpoint\":{\"Port\":$p}}}}" >/dev/null
}

# stop_cluster CLUSTER: SIGTERM to every running component, SIGKILL after a grace period.
stop_cluster() {
	local c=$1 comp pid pids=() i
	for ((i = ${#TB_COMPONENTS[@]} - 1; i >= 0; i--)); do
		comp=${TB_COMPONENTS[$i]}
		pid=$(pid_of "$c" "$comp")
		[[ -n $pid ]] && { kill -TERM "$pid" 2>/dev/null || true; pids+=("$pid"); }
	done
	local deadline=$((SECONDS + ${MTM_TESTBED_GRACE:-10}))
	for pid in "${pids[@]}"; do
		while alive "$pid"; do
			((SECONDS < deadline)) || kill -KILL "$pid" 2>/dev/null || true
			((SECONDS < deadline + 5)) || break
			sleep 0.2
		done
	done
	for comp in "${TB_COMPONENTS[@]}"; do rm -f "$(cluster_dir "$c")/$comp.pid"; done
}
