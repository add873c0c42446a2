# shellcheck shell=bash
# The standup the workshop builds on: CRDs, stand-in GatewayClasses and, on east-ag only,
# the stand-in enterprise-agentgateway helm release. Every step is idempotent.

crds_dirs() {
	local gw=$TB_SHARED/crds/gateway-api-v1.4.0 ag=$TB_SHARED/crds/agentgateway-v1.1.0
	[[ -d $gw && -d $ag ]] || die "CRDs not found under $TB_SHARED/crds (set MTM_SHARED_DIR to the shared directory)"
	echo "$gw $ag $REPO_ROOT/tests/fixtures/standin-crds"
}

# Server-side apply: two of the agentgateway CRDs are too large for client-side apply.
install_crds() {
	local c=$1 d args=() crds
	for d in $(crds_dirs); do args+=(-f "$d"); done
	crds=$(kubectl_c "$c" apply --server-side --field-manager mtm-testbed "${args[@]}" -o name)
	# shellcheck disable=SC2086 # one argument per CRD
	kubectl_c "$c" wait --for condition=Established $crds --timeout "${TB_TIMEOUT}s" >/dev/null
	# Discovery may lag the Established condition by a moment.
	for _ in 1 2 3 4 5; do
		kubectl_c "$c" apply --server-side --field-manager mtm-testbed \
			-f "$REPO_ROOT/tests/fixtures/standin-gatewayclasses" >/dev/null 2>&1 && return 0
		sleep 1
	done
	kubectl_c "$c" apply --server-side --field-manager mtm-testbed \
		-f "$REPO_ROOT/tests/fixtures/standin-gatewayclasses" >/dev/null
}

install_release() {
	local c=$1
	if helm_c "$c" -n "$TB_RELEASE_NS" status "$TB_RELEASE" >/dev/null 2>&1; then
		return 0
	fi
	helm_c "$c" upgrade --install "$TB_RELEASE" "$TB_CHART" -n "$TB_RELEASE_NS" --create-namespace \
		--set-string licensing.licenseKey="$TB_LICENSE_KEY" --wait --timeout "${TB_TIMEOUT}s" >/dev/null
}
