# shellcheck shell=bash
# Building the testbed's binaries from the Go wrapper modules in tests/testbed/go/.
# Each component lands in $TB_CACHE/<component>-<version>/, outside the repository, and is
# built again only when its version (read from the wrapper's go.mod) changes.

TB_GO=$TESTBED_HOME/go

# module_version DIR MODULE: the version of MODULE that DIR/go.mod requires.
module_version() {
	awk -v m="$2" '$1 == m { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' "$1/go.mod"
}

# The cache directory of each component, keyed by its version. The waypoint stand-in is
# our own source, so its key is a hash of that source and the module files.
bin_dir() {
	case $1 in
		etcd) echo "$TB_CACHE/etcd-$(module_version "$TB_GO/etcd" go.etcd.io/etcd/server/v3)" ;;
		kubernetes) echo "$TB_CACHE/kubernetes-$(module_version "$TB_GO/kubernetes" k8s.io/kubernetes)" ;;
		kwok)
			# Keyed by the testbed's edits of kwok too (kwok_source).
			local sum
			sum=$(printf '%s\n' "$TB_KWOK_EDITS" | cat - "$TB_GO/kwok/exit_code.go.in" | sha256sum | cut -c1-8)
			echo "$TB_CACHE/kwok-$(module_version "$TB_GO/kwok" sigs.k8s.io/kwok)-exec-$sum" ;;
		helm) echo "$TB_CACHE/helm-$(module_version "$TB_GO/helm" helm.sh/helm/v3)" ;;
		waypoint-standin)
			local sum
			sum=$(cat "$TB_GO/kubernetes/go.mod" "$TB_GO/kubernetes/go.sum" "$TB_GO"/kubernetes/cmd/waypoint-standin/*.go | sha256sum | cut -c1-12)
			echo "$TB_CACHE/waypoint-standin-$sum" ;;
		*) die "unknown build component $1" ;;
	esac
}

# The binary that runs each process component.
bin_of() {
	case $1 in
		etcd) echo "$(bin_dir etcd)/etcd" ;;
		kube-*|kubectl) echo "$(bin_dir kubernetes)/$1" ;;
		kwok) echo "$(bin_dir kwok)/kwok" ;;
		helm) echo "$(bin_dir helm)/helm" ;;
		waypoint-standin) echo "$(bin_dir waypoint-standin)/waypoint-standin" ;;
		*) die "unknown binary $1" ;;
	esac
}

# go_build COMPONENT MODULE_DIR LDFLAGS PACKAGE...: build into a temporary directory and
# move it into place, so an interrupted build never looks finished.
go_build() {
	local comp=$1 mod=$2 ldflags=$3 dest tmp log start
	shift 3
	dest=$(bin_dir "$comp")
	[[ -d $dest ]] && return 0
	command -v go >/dev/null || die "go is not on PATH; the testbed builds its binaries with Go"
	tmp=$dest.partial.$$
	log=$TB_CACHE/build-$comp.log
	start=$SECONDS
	say "building $(basename "$dest") (log: $log)"
	rm -rf "$tmp"
	if ! (cd "$mod" && CGO_ENABLED=0 GOTOOLCHAIN=local go build -trimpath -buildvcs=false -p 2 \
		-ldflags "$ldflags" -o "$tmp/" "$@") >"$log" 2>&1; then
		tail -n 30 "$log" | sed 's/^/    /' >&2
		rm -rf "$tmp"
		die "building $comp failed; the whole log is $log"
	fi
	mv "$tmp" "$dest"
	say "built $(basename "$dest") in $((SECONDS - start))s"
}

# The edits the testbed makes to kwok's source, one per line: file (under the module),
# sed expression, and a text the edited file holds exactly once afterwards.
#  - The two local exec calls (without and with a terminal) pass their error through
#    withExitCode (added from go/kwok/exit_code.go.in), so a failing command's exit code
#    reaches kubectl as from a kubelet.
#  - The pipe that feeds `kubectl exec -i`'s stdin to the command is closed when that
#    stdin ends, so a command reading to the end of its input (cat, sh -s) finishes.
TB_KWOK_EDITS='pkg/kwok/server/debugging_exec.go	s/err := exec\.Exec(ctx, cmd\[0\], cmd\[1:\]\.\.\.)$/err := withExitCode(exec.Exec(ctx, cmd[0], cmd[1:]...))/	withExitCode(exec.Exec(
pkg/kwok/server/debugging_exec_other.go	s/err = exec\.Exec(ctx, cmd\[0\], cmd\[1:\]\.\.\.)$/err = withExitCode(exec.Exec(ctx, cmd[0], cmd[1:]...))/	withExitCode(exec.Exec(
pkg/utils/exec/exec.go	s/^\(\t*\)_, _ = io\.Copy(inPipe, opt\.In)$/&\n\1_ = inPipe.Close()/	_ = inPipe.Close()'

# kwok_source DIR: a copy of kwok's module in DIR/kwok with TB_KWOK_EDITS made and
# exit_code.go.in added, and DIR/build.mod (with DIR/build.sum), the wrapper's go.mod
# replacing kwok by that copy, for go build -modfile. Prints the path of build.mod. Fails
# when an edit no longer applies exactly once. (go build -overlay cannot replace files in
# the module cache, hence the copy.)
kwok_source() {
	local out=$1 src file expr marker n
	command -v go >/dev/null || die "go is not on PATH; the testbed builds its binaries with Go"
	# go list -m names no directory for a module not yet in the module cache.
	(cd "$TB_GO/kwok" && GOTOOLCHAIN=local go mod download sigs.k8s.io/kwok) >&2 ||
		die "downloading kwok's module failed (go mod download in $TB_GO/kwok)"
	src=$(cd "$TB_GO/kwok" && GOTOOLCHAIN=local go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
	[[ -d $src ]] || die "kwok's source is not in the module cache (go mod download in $TB_GO/kwok)"
	rm -rf "$out"
	mkdir -p "$out"
	cp -R "$src" "$out/kwok"
	chmod -R u+w "$out/kwok"
	while IFS=$'\t' read -r file expr marker; do
		sed -i "$expr" "$out/kwok/$file"
		n=$(grep -cF -- "$marker" "$out/kwok/$file" || true)
		[[ $n == 1 ]] || die "the testbed's edit of kwok's $file left '$marker' $n times, not once; kwok changed?"
	done <<<"$TB_KWOK_EDITS"
	cp "$TB_GO/kwok/exit_code.go.in" "$out/kwok/pkg/kwok/server/zz_mtm_exit_code.go"
	{ cat "$TB_GO/kwok/go.mod"; printf '\nreplace sigs.k8s.io/kwok => %s\n' "$out/kwok"; } >"$out/build.mod"
	cp "$TB_GO/kwok/go.sum" "$out/build.sum"
	echo "$out/build.mod"
}

k8s_ldflags() {
	local v=$1 major minor date
	major=${v#v}; major=${major%%.*}
	minor=${v#v*.}; minor=${minor%%.*}
	# The release's commit time from the module proxy's info, so builds are reproducible.
	date=$(cd "$TB_GO/kubernetes" && go list -m -f '{{with .Time}}{{.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' k8s.io/kubernetes)
	local pkg out="-s -w"
	for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		out+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
		out+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=${date:-1970-01-01T00:00:00Z}"
	done
	echo "$out"
}

build_all() {
	mkdir -p "$TB_CACHE"
	# One build at a time per cache: a second testbed instance waits for the first.
	exec 9>"$TB_CACHE/.build.lock"
	if ! flock -n 9; then
		say "waiting for another testbed build in $TB_CACHE"
		flock 9
	fi

	local v
	v=$(module_version "$TB_GO/etcd" go.etcd.io/etcd/server/v3)
	go_build etcd "$TB_GO/etcd" "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=module-$v" .

	v=$(module_version "$TB_GO/kubernetes" k8s.io/kubernetes)
	# One invocation for the four binaries, so they share every compiled package.
	[[ -d $(bin_dir kubernetes) ]] || go_build kubernetes "$TB_GO/kubernetes" "$(k8s_ldflags "$v")" \
		k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
		k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
	go_build waypoint-standin "$TB_GO/kubernetes" "-s -w" ./cmd/waypoint-standin

	v=$(module_version "$TB_GO/kwok" sigs.k8s.io/kwok)
	if [[ ! -d $(bin_dir kwok) ]]; then
		local modfile
		modfile=$(kwok_source "$TB_CACHE/kwok-src")
		go_build kwok "$TB_GO/kwok" "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${v#v}" \
			-modfile "$modfile" sigs.k8s.io/kwok/cmd/kwok
		rm -rf "$TB_CACHE/kwok-src"
	fi

	v=$(module_version "$TB_GO/helm" helm.sh/helm/v3)
	go_build helm "$TB_GO/helm" "-s -w -X helm.sh/helm/v3/internal/version.version=$v -X helm.sh/helm/v3/internal/version.gitTreeState=clean" \
		helm.sh/helm/v3/cmd/helm

	exec 9>&-
}
