# shellcheck shell=bash
# Per-instance PKI made with openssl: a CA, the apiserver's serving certificate, an admin
# client certificate in system:masters, the apiserver's kubelet-client certificate, the
# serving certificate of kwok's kubelet API and the service-account signing key. All keys
# are ECDSA P-256.

# sign DIR NAME SUBJECT EXTENSIONS: a key and a CA-signed certificate NAME.{key,crt}.
sign() {
	local dir=$1 name=$2 subj=$3 ext=$4
	openssl ecparam -name prime256v1 -genkey -noout -out "$dir/$name.key" 2>/dev/null
	openssl req -new -key "$dir/$name.key" -subj "$subj" -out "$dir/$name.csr" 2>/dev/null
	printf '%s\n' "$ext" >"$dir/$name.ext"
	openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
		-CAcreateserial -days 30 -sha256 -extfile "$dir/$name.ext" -out "$dir/$name.crt" 2>/dev/null
	rm -f "$dir/$name.csr" "$dir/$name.ext"
}

make_pki() {
	local cluster=$1 dir
	dir=$(cluster_dir "$cluster")/pki
	if [[ -f $dir/done ]]; then
		make_kubelet_cert "$dir"
		return 0
	fi
	command -v openssl >/dev/null || die "openssl is not on PATH; the testbed makes its certificates with it"
	rm -rf "$dir"
	mkdir -p "$dir"
	chmod 700 "$dir"
	openssl ecparam -name prime256v1 -genkey -noout -out "$dir/ca.key" 2>/dev/null
	openssl req -x509 -new -key "$dir/ca.key" -subj "/CN=mtm-testbed-$cluster-ca" -days 30 -sha256 \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
		-out "$dir/ca.crt" 2>/dev/null
	sign "$dir" apiserver "/CN=kube-apiserver" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost,IP:10.96.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
	sign "$dir" admin "/O=system:masters/CN=mtm-testbed-admin" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
	sign "$dir" kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
	openssl ecparam -name prime256v1 -genkey -noout -out "$dir/sa.key" 2>/dev/null
	openssl ec -in "$dir/sa.key" -pubout -out "$dir/sa.pub" 2>/dev/null
	make_kubelet_cert "$dir"
	touch "$dir/done"
}

# make_kubelet_cert DIR: the serving certificate of the kubelet API that kwok serves on
# 127.0.0.1, which kube-apiserver verifies against the CA. Made on its own, so an instance
# whose PKI predates it gets one without new certificates for everything else.
make_kubelet_cert() {
	local dir=$1
	[[ -f $dir/kubelet.crt && -f $dir/kubelet.key ]] && return 0
	sign "$dir" kubelet "/CN=mtm-testbed-kwok-kubelet" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost"
}

# write_kubeconfig FILE CURRENT CLUSTER...: one context per cluster, named after it, with the
# admin certificate embedded.
write_kubeconfig() {
	local out=$1 current=$2 c pki
	shift 2
	{
		echo "apiVersion: v1"
		echo "kind: Config"
		echo "clusters:"
		for c in "$@"; do
			pki=$(cluster_dir "$c")/pki
			echo "- name: $c"
			echo "  cluster:"
			echo "    server: https://127.0.0.1:$(port "$c" apiserver)"
			echo "    certificate-authority-data: $(base64 -w0 "$pki/ca.crt")"
		done
		echo "users:"
		for c in "$@"; do
			pki=$(cluster_dir "$c")/pki
			echo "- name: $c-admin"
			echo "  user:"
			echo "    client-certificate-data: $(base64 -w0 "$pki/admin.crt")"
			echo "    client-key-data: $(base64 -w0 "$pki/admin.key")"
		done
		echo "contexts:"
		for c in "$@"; do
			echo "- name: $c"
			echo "  context: {cluster: $c, user: $c-admin}"
		done
		echo "current-context: $current"
	} >"$out.tmp"
	chmod 600 "$out.tmp"
	mv "$out.tmp" "$out"
}
