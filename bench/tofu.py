"""The Terraform-family peer for bench/run: OpenTofu with the gavinbunney/kubectl provider.

What it does: builds `tofu` and `terraform-provider-kubectl` from their Go modules once and
keeps them outside the repository (like tests/testbed keeps its binaries), keyed by version;
turns the workshop's objects into one `kubectl_manifest` resource each (server-side apply, a
provider alias per cluster, namespaces first) and runs `tofu apply` / `tofu plan` on them with
a CLI configuration whose `dev_overrides` points at the built provider, so that no registry is
asked and no `tofu init` is needed.

What it does not know: what the objects mean, how they are rendered, or what mtm does with
them (bench/run gives it the objects and times the commands). It never asserts a figure.
Python 3 standard library only.
"""

import fcntl
import json
import os
import re
import shutil
import subprocess
import tempfile

TOFU_MODULE = "github.com/opentofu/opentofu"
TOFU_VERSION = "v1.12.6"
PROVIDER_MODULE = "github.com/gavinbunney/terraform-provider-kubectl"
PROVIDER_VERSION = "v1.19.0"
PROVIDER_SOURCE = "gavinbunney/kubectl"


def cache_dir():
    """Where the built binaries live: $MTM_BENCH_CACHE, else ~/.cache/mtm-bench."""
    return os.environ.get("MTM_BENCH_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "mtm-bench")


class BuildError(Exception):
    pass


def _go(args, cwd, log, env_extra=None):
    env = dict(os.environ)
    env.update({"CGO_ENABLED": "0", "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod"})
    env.update(env_extra or {})
    with open(log, "a") as f:
        f.write("$ go " + " ".join(args) + "\n")
        f.flush()
        p = subprocess.run(["go", *args], cwd=cwd, env=env, stdout=f, stderr=subprocess.STDOUT)
    if p.returncode != 0:
        raise BuildError(f"go {' '.join(args)} exited {p.returncode}; the log is {log}")


def _module_dir(module, version, log, scratch):
    """Download MODULE@VERSION through the module proxy; its directory in the module cache."""
    env = dict(os.environ, GOFLAGS="-mod=mod", GOTOOLCHAIN="local")
    p = subprocess.run(["go", "mod", "download", "-json", f"{module}@{version}"], cwd=scratch, env=env,
                       capture_output=True, text=True)
    with open(log, "a") as f:
        f.write(f"$ go mod download -json {module}@{version}\n{p.stdout}{p.stderr}")
    try:
        info = json.loads(p.stdout)
    except ValueError:
        info = {}
    if p.returncode != 0 or info.get("Error") or not info.get("Dir"):
        raise BuildError(f"go mod download {module}@{version} failed: {info.get('Error') or p.stderr.strip()[-300:]}")
    return info["Dir"]


def _build_into(dest, log, build):
    """Run build(partial_dir) and move the result to dest, so an interrupted build never
    looks finished. One build at a time per cache (a lock file beside the binaries)."""
    if os.path.isdir(dest):
        return False
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    with open(os.path.join(os.path.dirname(dest), ".build.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.isdir(dest):  # another run built it while we waited
            return False
        partial = f"{dest}.partial.{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        try:
            build(partial)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        os.rename(partial, dest)
    return True


def tools(log):
    """(tofu binary, provider directory), building what the cache lacks. Raises BuildError."""
    if shutil.which("go") is None:
        raise BuildError("go is not on PATH; bench/run builds OpenTofu and the kubectl provider with Go")
    cache = cache_dir()
    tofu_dir = os.path.join(cache, f"tofu-{TOFU_VERSION}")
    provider_dir = os.path.join(cache, f"terraform-provider-kubectl-{PROVIDER_VERSION}")
    scratch = tempfile.mkdtemp(prefix="mtm-bench-go-")
    try:
        def build_tofu(out):
            # OpenTofu's go.mod has replace directives, which `go install MODULE@VERSION`
            # refuses: build inside a writable copy of the module instead.
            src = os.path.join(scratch, "opentofu")
            shutil.copytree(_module_dir(TOFU_MODULE, TOFU_VERSION, log, scratch), src)
            subprocess.run(["chmod", "-R", "u+w", src], check=True)  # the module cache is read-only
            # version.dev=no: a release's version string (v1.12.6, not v1.12.6-dev).
            _go(["build", "-trimpath", "-buildvcs=false", "-p", "2", "-ldflags",
                 f"-s -w -X {TOFU_MODULE}/version.dev=no", "-o", out + "/", "./cmd/tofu"], src, log)

        def build_provider(out):
            _go(["install", "-trimpath", "-buildvcs=false", "-p", "2", "-ldflags", "-s -w",
                 f"{PROVIDER_MODULE}@{PROVIDER_VERSION}"], scratch, log, {"GOBIN": out})

        _build_into(tofu_dir, log, build_tofu)
        _build_into(provider_dir, log, build_provider)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    tofu = os.path.join(tofu_dir, "tofu")
    if not os.access(tofu, os.X_OK) or not os.access(os.path.join(provider_dir, "terraform-provider-kubectl"), os.X_OK):
        raise BuildError(f"the cache {cache} holds no runnable tofu or provider; remove {tofu_dir} and {provider_dir}")
    return tofu, provider_dir


def version(tofu):
    # An empty CLI configuration: without one, tofu warns on stdout that ~/.terraformrc is missing.
    env = dict(os.environ, TF_CLI_CONFIG_FILE=os.devnull)
    p = subprocess.run([tofu, "version", "-json"], capture_output=True, text=True, env=env)
    try:
        return json.loads(p.stdout).get("terraform_version") or TOFU_VERSION
    except ValueError:
        return TOFU_VERSION


# ------------------------------------------------------------------ the configuration

def _hcl_name(text):
    return re.sub(r"[^a-z0-9_]", "_", text.lower())


def _heredoc(text):
    # HCL reads ${ and %{ in a heredoc as a template; the objects hold none on purpose.
    text = text.replace("${", "$${").replace("%{", "%%{")
    return f"<<-EOT\n{text}\nEOT"


def configuration(objects, kubeconfig):
    """main.tf for objects, a list of (context, object as a dict): one provider alias per
    context, one kubectl_manifest per object, every non-Namespace object depending on the
    Namespaces of its cluster. The YAML body is the object as JSON (JSON is YAML)."""
    contexts = []
    for ctx, _ in objects:
        if ctx not in contexts:
            contexts.append(ctx)
    out = ['terraform {', '  required_providers {', f'    kubectl = {{ source = "{PROVIDER_SOURCE}" }}', '  }', '}', '']
    for ctx in contexts:
        out += ['provider "kubectl" {', f'  alias            = "{_hcl_name(ctx)}"',
                f'  config_path      = {json.dumps(kubeconfig)}', f'  config_context   = {json.dumps(ctx)}',
                '  load_config_file = true', '}', '']
    names, namespaces = [], {}
    for ctx, obj in objects:
        meta = obj.get("metadata", {})
        name = _hcl_name(f"{ctx}_{obj['kind']}_{meta.get('namespace', '')}_{meta['name']}")
        while name in names:
            name += "_"
        names.append(name)
        if obj["kind"] == "Namespace":
            namespaces.setdefault(ctx, []).append(name)
    for (ctx, obj), name in zip(objects, names):
        out += [f'resource "kubectl_manifest" "{name}" {{', f'  provider          = kubectl.{_hcl_name(ctx)}',
                '  server_side_apply = true', '  force_conflicts   = true', '  wait_for_rollout  = false']
        if obj["kind"] != "Namespace" and namespaces.get(ctx):
            out.append(f'  depends_on        = [{", ".join("kubectl_manifest." + n for n in namespaces[ctx])}]')
        out += [f'  yaml_body = {_heredoc(json.dumps(obj, indent=2, sort_keys=True))}', '}', '']
    return "\n".join(out)


def cli_config(provider_dir):
    """The CLI configuration: the provider from provider_dir, every other one as usual."""
    return ("provider_installation {\n  dev_overrides {\n"
            f"    {json.dumps(PROVIDER_SOURCE)} = {json.dumps(provider_dir)}\n"
            "  }\n  direct {}\n}\n")


class Workdir:
    """One OpenTofu working directory with its own local state."""

    def __init__(self, path, tofu, provider_dir, objects, kubeconfig, env):
        self.path, self.tofu = path, tofu
        os.makedirs(path)
        with open(os.path.join(path, "main.tf"), "w") as f:
            f.write(configuration(objects, kubeconfig))
        rc = os.path.join(path, "bench.tofurc")
        with open(rc, "w") as f:
            f.write(cli_config(provider_dir))
        self.env = dict(env)
        self.env.update({"TF_CLI_CONFIG_FILE": rc, "TF_IN_AUTOMATION": "1", "TF_INPUT": "0"})
        self.count = len(objects)

    def command(self, verb, *args):
        return [self.tofu, f"-chdir={self.path}", verb, "-no-color", "-input=false", *args]

    def apply(self):
        return self.command("apply", "-auto-approve")

    def plan(self):
        return self.command("plan", "-detailed-exitcode")

    def destroy(self):
        return self.command("destroy", "-auto-approve")
