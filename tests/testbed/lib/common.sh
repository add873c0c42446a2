# shellcheck shell=bash
# Settings, names, ports and small helpers shared by the testbed's commands.
# Sourced by tests/testbed/testbed; expects TESTBED_HOME and REPO_ROOT to be set.

# CI may start us without HOME; Go needs one too.
: "${HOME:=$(getent passwd "$(id -u)" | cut -d: -f6)}"
export HOME

TB_DIR=${MTM_TESTBED_DIR:-$HOME/.local/state/mtm-testbed}
TB_CACHE=${MTM_TESTBED_CACHE:-$HOME/.cache/mtm-testbed}
# The shared directory (with crds/): MTM_SHARED_DIR, else the nearest `shared/` beside
# the repository or beside one of its parent directories.
find_shared() {
	local dir=$REPO_ROOT
	while [[ $dir != / && -n $dir ]]; do
		dir=$(dirname "$dir")
		if [[ -d $dir/shared/crds ]]; then
			echo "$dir/shared"
			return
		fi
	done
	echo "$REPO_ROOT/../shared"
}
TB_SHARED=${MTM_SHARED_DIR:-$(find_shared)}
TB_TIMEOUT=${MTM_TESTBED_TIMEOUT:-180}
TB_CLUSTERS=(east-ag west-ag)
TB_MARKER=.mtm-testbed

# The stand-in chart and the fake licence key the standup installs it with.
TB_CHART=$REPO_ROOT/tests/fixtures/charts/enterprise-agentgateway-standin
TB_LICENSE_KEY=mtm-testbed-fake-licence-key-not-a-real-one
TB_RELEASE=enterprise-agentgateway
TB_RELEASE_NS=agentgateway-system

# Components in start order (stop goes in reverse).
TB_COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok waypoint-standin)

say() { printf 'testbed: %s\n' "$*" >&2; }
die() { printf 'testbed: error: %s\n' "$*" >&2; exit 1; }

# The port base is fixed when an instance is created, so status and down find the same
# ports even if the environment changed since.
port_base() {
	if [[ -f $TB_DIR/instance.env ]]; then
		sed -n 's/^PORT_BASE=//p' "$TB_DIR/instance.env"
	else
		echo "${MTM_TESTBED_PORT_BASE:-26400}"
	fi
}

cluster_index() {
	local i
	for i in "${!TB_CLUSTERS[@]}"; do
		[[ ${TB_CLUSTERS[$i]} == "$1" ]] && { echo "$i"; return; }
	done
	die "unknown cluster $1"
}

# port CLUSTER NAME: every listening port of a cluster lives in base + 100*index + 0..99.
port() {
	local off=$(( $(port_base) + 100 * $(cluster_index "$1") ))
	case $2 in
		apiserver) echo $((off + 43)) ;;
		etcd-client) echo $((off + 79)) ;;
		etcd-peer) echo $((off + 80)) ;;
		controller-manager) echo $((off + 57)) ;;
		scheduler) echo $((off + 59)) ;;
		kubelet) echo $((off + 50)) ;;
		*) die "unknown port $2" ;;
	esac
}

# Ports a component listens on (kwok serves the kubelet API of its node; the waypoint
# stand-in listens on none).
component_ports() {
	case $2 in
		etcd) echo "$(port "$1" etcd-client) $(port "$1" etcd-peer)" ;;
		kube-apiserver) port "$1" apiserver ;;
		kube-controller-manager) port "$1" controller-manager ;;
		kube-scheduler) port "$1" scheduler ;;
		kwok) port "$1" kubelet ;;
		*) echo "" ;;
	esac
}

cluster_dir() { echo "$TB_DIR/$1"; }

# alive PID: the process exists and is not a zombie (one that exited, not yet reaped).
alive() { [[ -r /proc/$1/status && $(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null) != Z ]]; }

# pid_of CLUSTER COMPONENT: the pid from the pid file when that process still runs and is
# ours (its command line names the cluster directory), else nothing.
pid_of() {
	local file pid
	file=$(cluster_dir "$1")/$2.pid
	[[ -f $file ]] || return 0
	pid=$(<"$file")
	[[ $pid =~ ^[0-9]+$ ]] || return 0
	if alive "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$(cluster_dir "$1")/"; then
		echo "$pid"
	fi
	return 0
}

port_in_use() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

# start_proc CLUSTER COMPONENT ENV... -- COMMAND...: run detached in its own session, output
# appended to <cluster dir>/<component>.log, pid in <component>.pid.
start_proc() {
	local cluster=$1 comp=$2 dir
	shift 2
	dir=$(cluster_dir "$cluster")
	local envs=()
	while [[ $1 != -- ]]; do envs+=("$1"); shift; done
	shift
	printf '\n--- %s start %s\n' "$(date -u +%FT%TZ)" "$comp" >>"$dir/$comp.log"
	env "${envs[@]}" setsid "$@" >>"$dir/$comp.log" 2>&1 </dev/null &
	echo $! >"$dir/$comp.pid"
}

# launching CLUSTER COMPONENT: the process start_proc just started is alive but not yet
# the component (its shell has not exec'd it yet, which takes a while on a loaded machine),
# so pid_of does not know it by its command line.
launching() {
	local file pid
	file=$(cluster_dir "$1")/$2.pid
	[[ -f $file ]] || return 1
	pid=$(<"$file")
	[[ $pid =~ ^[0-9]+$ ]] && alive "$pid"
}

# wait_until CLUSTER COMPONENT WHAT COMMAND...: poll COMMAND until it succeeds; fail with
# the cluster, component, what was awaited and the tail of the component's log when the
# component dies or TB_TIMEOUT passes.
wait_until() {
	local cluster=$1 comp=$2 what=$3 deadline
	shift 3
	deadline=$((SECONDS + TB_TIMEOUT))
	until "$@" >/dev/null 2>&1; do
		if [[ -z $(pid_of "$cluster" "$comp") ]] && ! launching "$cluster" "$comp"; then
			fail_with_log "$cluster" "$comp" "$comp exited while waiting for $what"
		fi
		if ((SECONDS >= deadline)); then
			fail_with_log "$cluster" "$comp" "timed out after ${TB_TIMEOUT}s waiting for $what"
		fi
		sleep 0.5
	done
}

fail_with_log() {
	local log
	log=$(cluster_dir "$1")/$2.log
	{
		printf 'testbed: error: %s %s: %s\n' "$1" "$2" "$3"
		if [[ -f $log ]]; then
			printf 'testbed: last lines of %s:\n' "$log"
			tail -n 15 "$log" | sed 's/^/    /'
		fi
	} >&2
	exit 1
}

# kubectl keeps its discovery cache in the instance, not in ~/.kube, where another instance
# on the same ports may have left one.
kubectl_c() {
	local c=$1
	shift
	"$TB_DIR/bin/kubectl" --kubeconfig "$TB_DIR/kubeconfig" --cache-dir "$TB_DIR/kube-cache" --context "$c" "$@"
}
helm_c() { local c=$1; shift; "$TB_DIR/bin/helm" --kubeconfig "$TB_DIR/kubeconfig" --kube-context "$c" "$@"; }
