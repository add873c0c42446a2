#!/usr/bin/env bash
# The Agentic / MCP Lab as a user runs it by hand: the workshop's kubectl and helm commands
# (../shared/workshop/agentic-mcp-lab.txt beside the repository), in the workshop's order, labs 1-6 and the
# bonus, with the workshop's YAML. bench/run times it against `mtm apply`.
#
# Left out, on purpose: the Test / Verify / Proof steps (kubectl exec ... curl, istioctl
# ztunnel-config, the STS token exchange) and the Cleanup section. Changed, on purpose:
#  - $LAB6_JWKS is a fixed sample JWKS below (the workshop copies one from a gist), and it
#    is substituted where the workshop writes \${LAB6_JWKS};
#  - the bonus's `kubectl delete deploy orders-mcp svc orders-mcp serviceaccount orders-mcp`
#    is written in TYPE/NAME form (as written, kubectl fails: see there);
#  - `kubectl wait` is retried while it answers "no matching resources found": right after
#    an apply the Deployment's pods (or the waypoint's pod) may not exist yet, and
#    `kubectl wait` then fails at once instead of waiting. A user re-runs it by hand.
# Environment: CLUSTER1, CLUSTER2 (default east-ag, west-ag), AG_CHART, AG_CHART_VERSION,
# AGENTGATEWAY_LICENSE_KEY (the testbed's `env` sets them).
set -euo pipefail

CLUSTER1=${CLUSTER1:-east-ag}
CLUSTER2=${CLUSTER2:-west-ag}
AG_CHART=${AG_CHART:-oci://us-docker.pkg.dev/solo-public/enterprise-agentgateway/charts/enterprise-agentgateway}
AG_CHART_VERSION=${AG_CHART_VERSION:-v2.3.3}
AGENTGATEWAY_LICENSE_KEY=${AGENTGATEWAY_LICENSE_KEY:-}
# A fixed sample public key (RS256), standing in for the gist's sample JWKS.
LAB6_JWKS='{"keys":[{"kty":"RSA","use":"sig","alg":"RS256","kid":"bench-sample","n":"irM6Icg_A9oR_mC-E1JIFT8ol-vsmKxVBIEhGZ3gtR4buCQypZBMmsvI-KUfcp7v8Y9BIV0DOlWExdMLLzByvxyuk861ZEpYFC3n2DuRwpMXOXPYbgO8CVbDTQrecxjYsRwSUILw5X9-C1RzjN_KU7POojsYn-unQJtjgBkiOWoGId6HBriiTfQGYZaGsvrjMAR4GSm5S6kloYAq8HPFnHWHB6O4H65Ry4HRlau4cWpiQU2AtddI34QRdhMbyBjsqpTn6m3KrGo77N3N8oeYS_kISlW-9nMLQ_U399gkd7wAyeW47xnfykKeNBsEVj95z_QJAJuAuOYB09K_hvXrbw","e":"AQAB"}]}'

# kubectl wait, again while nothing matches yet (at most the wait's own timeout).
wait_retry() {
	local deadline=$((SECONDS + 300)) out
	while :; do
		if out=$(kubectl "$@" 2>&1); then
			printf '%s\n' "$out"
			return 0
		fi
		if [[ $out != *"no matching resources found"* ]] || ((SECONDS >= deadline)); then
			printf '%s\n' "$out" >&2
			return 1
		fi
		sleep 0.5
	done
}

# ---------------------------------------------------------------- LAB 1
kubectl --context $CLUSTER1 create ns ai-tools
kubectl --context $CLUSTER1 label  ns ai-tools  istio.io/dataplane-mode=ambient --overwrite

kubectl --context $CLUSTER1 create ns ai-agents
kubectl --context $CLUSTER1 label  ns ai-agents istio.io/dataplane-mode=ambient --overwrite

kubectl --context $CLUSTER1 apply -f - <<'EOF'
apiVersion: v1
kind: ServiceAccount
metadata: { name: inventory-mcp, namespace: ai-tools }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: inventory-mcp, namespace: ai-tools }
spec:
  replicas: 1
  selector: { matchLabels: { app: inventory-mcp } }
  template:
    metadata: { labels: { app: inventory-mcp } }
    spec:
      serviceAccountName: inventory-mcp
      containers:
      - name: app
        image: ghcr.io/peterj/mcp-website-fetcher:main
        ports: [{ containerPort: 8000 }]
---
apiVersion: v1
kind: Service
metadata: { name: inventory-mcp, namespace: ai-tools }
spec:
  selector: { app: inventory-mcp }
  ports: [{ name: http, port: 80, targetPort: 8000 }]
---
apiVersion: v1
kind: ServiceAccount
metadata: { name: catalog-mcp, namespace: ai-tools }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: catalog-mcp, namespace: ai-tools }
spec:
  replicas: 1
  selector: { matchLabels: { app: catalog-mcp } }
  template:
    metadata: { labels: { app: catalog-mcp } }
    spec:
      serviceAccountName: catalog-mcp
      containers:
      - name: app
        image: node:20-alpine
        command: ["npx", "-y", "@modelcontextprotocol/server-everything", "sse"]
        ports: [{ containerPort: 3001 }]
---
apiVersion: v1
kind: Service
metadata: { name: catalog-mcp, namespace: ai-tools }
spec:
  selector: { app: catalog-mcp }
  ports: [{ name: http, port: 3001, targetPort: 3001, appProtocol: http }]
---
apiVersion: v1
kind: ServiceAccount
metadata: { name: orders-mcp, namespace: ai-tools }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: orders-mcp, namespace: ai-tools }
spec:
  replicas: 1
  selector: { matchLabels: { app: orders-mcp } }
  template:
    metadata: { labels: { app: orders-mcp } }
    spec:
      serviceAccountName: orders-mcp
      containers:
      - name: app
        image: node:20-alpine
        command: ["npx", "-y", "@modelcontextprotocol/server-everything", "sse"]
        ports: [{ containerPort: 3001 }]
---
apiVersion: v1
kind: Service
metadata: { name: orders-mcp, namespace: ai-tools }
spec:
  selector: { app: orders-mcp }
  ports: [{ name: http, port: 3001, targetPort: 3001, appProtocol: http }]
EOF

wait_retry --context $CLUSTER1 -n ai-tools wait --for=condition=Ready pod --all --timeout=300s

kubectl --context $CLUSTER1 apply -f - <<'EOF'
apiVersion: v1
kind: ServiceAccount
metadata: { name: dev-ui, namespace: ai-agents }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: dev-ui, namespace: ai-agents }
spec:
  replicas: 1
  selector: { matchLabels: { app: dev-ui } }
  template:
    metadata: { labels: { app: dev-ui } }
    spec:
      serviceAccountName: dev-ui
      containers:
      - name: c
        image: curlimages/curl:8.5.0
        command: ["sleep", "infinity"]
---
apiVersion: v1
kind: ServiceAccount
metadata: { name: rogue-ui, namespace: ai-agents }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: rogue-ui, namespace: ai-agents }
spec:
  replicas: 1
  selector: { matchLabels: { app: rogue-ui } }
  template:
    metadata: { labels: { app: rogue-ui } }
    spec:
      serviceAccountName: rogue-ui
      containers:
      - name: c
        image: curlimages/curl:8.5.0
        command: ["sleep", "infinity"]
EOF

wait_retry --context $CLUSTER1 -n ai-agents wait --for=condition=Ready pod --all --timeout=120s

# (Baseline curl calls skipped.)

# ---------------------------------------------------------------- LAB 2
kubectl --context $CLUSTER1 apply -f - <<EOF
apiVersion: enterpriseagentgateway.solo.io/v1alpha1
kind: EnterpriseAgentgatewayParameters
metadata: { name: waypoint-params, namespace: ai-tools }
spec:
  istioClusterId: ${CLUSTER1}
  ca:
    trustDomain: cluster.local
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: agw-waypoint
  namespace: ai-tools
  labels:
    istio.io/waypoint-for: service
spec:
  gatewayClassName: enterprise-agentgateway-waypoint
  listeners:
  - name: mesh
    protocol: HTTP
    port: 15088
    allowedRoutes: { namespaces: { from: Same } }
  infrastructure:
    parametersRef:
      group: enterpriseagentgateway.solo.io
      kind: EnterpriseAgentgatewayParameters
      name: waypoint-params
EOF

wait_retry --context $CLUSTER1 -n ai-tools wait \
  --for=condition=Ready pod -l gateway.networking.k8s.io/gateway-name=agw-waypoint \
  --timeout=180s

kubectl --context $CLUSTER1 -n ai-tools label svc inventory-mcp \
  istio.io/use-waypoint=agw-waypoint --overwrite

# (istioctl ztunnel-config check skipped.)

kubectl --context $CLUSTER1 apply -f - <<'EOF'
apiVersion: enterpriseagentgateway.solo.io/v1alpha1
kind: EnterpriseAgentgatewayPolicy
metadata: { name: waypoint-authz, namespace: ai-tools }
spec:
  targetRefs:
  - group: gateway.networking.k8s.io
    kind: Gateway
    name: agw-waypoint
  traffic:
    authorization:
      action: Allow
      policy:
        matchExpressions:
        - 'source.identity.serviceAccount == "dev-ui"'
EOF

# (Test curl calls skipped.)

# ---------------------------------------------------------------- LAB 3
kubectl --context $CLUSTER1 apply -f - <<'EOF'
apiVersion: v1
kind: Service
metadata:
  name: mcp-gateway
  namespace: ai-tools
  labels:
    istio.io/use-waypoint: agw-waypoint
spec:
  ports:
  - { name: http, port: 80, targetPort: 80, appProtocol: http }
  selector:
    nonexistent: "true"   # No pods — the waypoint owns this hostname
EOF

kubectl --context $CLUSTER1 apply -f - <<'EOF'
apiVersion: agentgateway.dev/v1alpha1
kind: AgentgatewayBackend
metadata: { name: mcp-be, namespace: ai-tools }
spec:
  mcp:
    targets:
    - name: catalog
      static:
        host: catalog-mcp.ai-tools.svc.cluster.local
        port: 3001
        protocol: SSE
    - name: orders
      static:
        host: orders-mcp.ai-tools.svc.cluster.local
        port: 3001
        protocol: SSE
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: mcp-route, namespace: ai-tools }
spec:
  parentRefs:
  - { group: "", kind: Service, name: mcp-gateway }
  rules:
  - backendRefs:
    - { group: agentgateway.dev, kind: AgentgatewayBackend, name: mcp-be }
EOF

# (tools/list call skipped.)

# ---------------------------------------------------------------- LAB 4
kubectl --context $CLUSTER1 apply -f - <<'EOF'
apiVersion: enterpriseagentgateway.solo.io/v1alpha1
kind: EnterpriseAgentgatewayPolicy
metadata: { name: mcp-tool-allowlist, namespace: ai-tools }
spec:
  targetRefs:
  - group: agentgateway.dev
    kind: AgentgatewayBackend
    name: mcp-be
  backend:
    mcp:
      authorization:
        action: Allow
        policy:
          matchExpressions:
          - 'mcp.tool.name == "echo"'
          - 'mcp.tool.name == "get-sum"'
EOF

# (Verify call skipped.)

# ---------------------------------------------------------------- LAB 5
kubectl --context $CLUSTER1 apply -f - <<EOF
apiVersion: enterpriseagentgateway.solo.io/v1alpha1
kind: EnterpriseAgentgatewayPolicy
metadata: { name: mcp-jwt-auth, namespace: ai-tools }
spec:
  targetRefs:
  - group: gateway.networking.k8s.io
    kind: Gateway
    name: agw-waypoint
  traffic:
    jwtAuthentication:
      mode: Strict
      providers:
      - issuer: "http://lab6"
        audiences: ["lab6"]
        jwks:
          inline: |
            ${LAB6_JWKS}
EOF

kubectl --context $CLUSTER1 apply -f - <<'EOF'
apiVersion: enterpriseagentgateway.solo.io/v1alpha1
kind: EnterpriseAgentgatewayPolicy
metadata: { name: mcp-user-rbac, namespace: ai-tools }
spec:
  targetRefs:
  - group: agentgateway.dev
    kind: AgentgatewayBackend
    name: mcp-be
  backend:
    mcp:
      authorization:
        action: Allow
        policy:
          matchExpressions:
          - 'jwt.sub == "alice" && mcp.tool.name == "echo"    && mcp.tool.target == "catalog"'
          - 'jwt.sub == "alice" && mcp.tool.name == "get-sum" && mcp.tool.target == "orders"'
          - 'jwt.sub == "bob"   && mcp.tool.name == "echo"    && mcp.tool.target == "catalog"'
EOF

# (alice / bob tools/list calls skipped.)

# ---------------------------------------------------------------- LAB 6
helm upgrade --install enterprise-agentgateway \
  "$AG_CHART" \
  --kube-context $CLUSTER1 \
  --namespace agentgateway-system \
  --version "$AG_CHART_VERSION" \
  --set licensing.licenseKey="$AGENTGATEWAY_LICENSE_KEY" \
  --reuse-values \
  -f - <<'EOF'
tokenExchange:
  enabled: true
  issuer: "enterprise-agentgateway.agentgateway-system.svc.cluster.local:7777"
  tokenExpiration: 24h
  subjectValidator:
    validatorType: remote
    remoteConfig:
      url: "http://mock-idp.tokenexchange-test.svc.cluster.local/.well-known/jwks.json"
  actorValidator: { validatorType: k8s }
  apiValidator: { validatorType: k8s }
EOF

kubectl --context $CLUSTER1 create ns tokenexchange-test
kubectl --context $CLUSTER1 label  ns tokenexchange-test istio.io/dataplane-mode=ambient --overwrite

kubectl --context $CLUSTER1 apply -f - <<EOF
apiVersion: v1
kind: ConfigMap
metadata: { name: mock-idp-jwks, namespace: tokenexchange-test }
data:
  jwks.json: |
    ${LAB6_JWKS}
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: mock-idp, namespace: tokenexchange-test }
spec:
  replicas: 1
  selector: { matchLabels: { app: mock-idp } }
  template:
    metadata: { labels: { app: mock-idp } }
    spec:
      containers:
      - name: nginx
        image: nginx:alpine
        ports: [{ containerPort: 80 }]
        volumeMounts:
        - { name: jwks, mountPath: /usr/share/nginx/html/.well-known }
      volumes:
      - name: jwks
        configMap:
          name: mock-idp-jwks
          items: [{ key: jwks.json, path: jwks.json }]
---
apiVersion: v1
kind: Service
metadata: { name: mock-idp, namespace: tokenexchange-test }
spec:
  selector: { app: mock-idp }
  ports: [{ name: http, port: 80, targetPort: 80, appProtocol: http }]
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: httpbin-up, namespace: tokenexchange-test }
spec:
  replicas: 1
  selector: { matchLabels: { app: httpbin-up } }
  template:
    metadata: { labels: { app: httpbin-up } }
    spec:
      containers:
      - { name: c, image: kennethreitz/httpbin, ports: [{ containerPort: 80 }] }
---
apiVersion: v1
kind: Service
metadata: { name: httpbin-up, namespace: tokenexchange-test }
spec:
  selector: { app: httpbin-up }
  ports: [{ name: http, port: 80, targetPort: 80, appProtocol: http }]
EOF

# (STS token exchange and proof calls skipped.)

# ---------------------------------------------------------------- BONUS
# The workshop writes `delete deploy orders-mcp svc orders-mcp serviceaccount orders-mcp`,
# which kubectl reads as six Deployment names (it deletes the Deployment, then fails with
# NotFound on "svc", "serviceaccount" ...). The TYPE/NAME form below is what it means.
kubectl --context $CLUSTER1 -n ai-tools delete deploy/orders-mcp svc/orders-mcp serviceaccount/orders-mcp

kubectl --context $CLUSTER2 create ns ai-tools
kubectl --context $CLUSTER2 label  ns ai-tools istio.io/dataplane-mode=ambient \
  topology.istio.io/network=${CLUSTER2} --overwrite

kubectl --context $CLUSTER2 apply -n ai-tools -f - <<'EOF'
apiVersion: v1
kind: ServiceAccount
metadata: { name: orders-mcp }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: orders-mcp }
spec:
  replicas: 1
  selector: { matchLabels: { app: orders-mcp } }
  template:
    metadata: { labels: { app: orders-mcp } }
    spec:
      serviceAccountName: orders-mcp
      containers:
      - name: app
        image: node:20-alpine
        command: ["npx", "-y", "@modelcontextprotocol/server-everything", "sse"]
        ports: [{ containerPort: 3001 }]
---
apiVersion: v1
kind: Service
metadata:
  name: orders-mcp
  labels:
    solo.io/service-scope: global
    istio.io/global: "true"
  annotations:
    networking.istio.io/traffic-distribution: Any
spec:
  selector: { app: orders-mcp }
  ports: [{ name: http, port: 3001, targetPort: 3001, appProtocol: http }]
EOF

kubectl --context $CLUSTER1 apply -f - <<EOF
apiVersion: agentgateway.dev/v1alpha1
kind: AgentgatewayBackend
metadata: { name: mcp-be, namespace: ai-tools }
spec:
  mcp:
    targets:
    - name: catalog
      static:
        host: catalog-mcp.ai-tools.svc.cluster.local
        port: 3001
        protocol: SSE
    - name: orders
      static:
        host: orders-mcp.ai-tools.svc.${CLUSTER2}.mesh.internal
        port: 3001
        protocol: SSE
EOF
