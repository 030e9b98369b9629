"""The services' container images, built from deploy/docker/Dockerfile the way ops build them, on a
machine without a Docker engine: Debian's `buildah` (chroot isolation, vfs storage, as root).

The base is the Dockerfile's default (python:3.11-slim-bookworm, what ops use) when it can be pulled;
where it cannot (no route to Docker Hub), a base of the same Debian release made by `debootstrap` from
Debian's own packages takes its place, cached as a tarball and as a local image. Builds trust the
host's certificate bundle (mounted read-only), so that downloads through a proxy with its own
authority work.

    python -m carnet_local.images build [--base IMAGE] [--tag TAG] [SERVICE...]   (`make images`)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from .config import REPO, SERVICES
from .processes import StackError

DOCKERFILE = REPO / "deploy" / "docker" / "Dockerfile"
IGNORE_FILE = REPO / "deploy" / "docker" / "Dockerfile.dockerignore"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
DEBIAN_RELEASE = "bookworm"  # the release of python:3.11-slim-bookworm, whose CPython 3.11 it also ships
DEBIAN_MIRROR = "http://deb.debian.org/debian"
LOCAL_BASE = f"localhost/carnet-python:3.11-{DEBIAN_RELEASE}"
BASE_MAX_AGE = timedelta(days=7)  # Debian's security updates reach a cached base within a week
SOURCE_LABEL = "org.carnet.source-digest"
BUILT_LABEL = "org.carnet.base-built"
# What the Dockerfile copies; their digest labels an image, so a test knows it was built from this tree.
SOURCES = ("pyproject.toml", "uv.lock", "contracts", "services", "deploy/local/pyproject.toml",
           "deploy/local/carnet_local", "deploy/docker")
SKIPPED_DIRS = {"tests", "bench", "__pycache__", ".venv", ".carnet", ".pytest_cache"}

Say = Callable[[str], None]


def default_cache_dir() -> Path:
    return Path(os.environ.get("CARNET_IMAGE_CACHE", Path.home() / ".cache" / "carnet" / "images"))


def ops_base() -> str:
    """The Dockerfile's default base image (the one ops build from)."""
    found = re.search(r"^ARG PYTHON_IMAGE=(\S+)", DOCKERFILE.read_text(), re.MULTILINE)
    if not found:
        raise StackError(f"{DOCKERFILE} has no default PYTHON_IMAGE")
    return found.group(1)


def why_not_buildable() -> str | None:
    """None when images can be built here; otherwise the one reason why not."""
    if os.geteuid() != 0:
        return "building images with buildah's chroot isolation and vfs storage needs root"
    for tool in ("buildah", "debootstrap"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install buildah debootstrap; .ci/run does)"
    return None


def buildah(*args: str, timeout: float = 900, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["buildah", "--storage-driver", "vfs", *args], capture_output=True, text=True,
                            timeout=timeout)
    if check and result.returncode != 0:
        raise StackError(f"buildah {args[0]} failed: {(result.stderr or result.stdout).strip()[-600:]}")
    return result


def inspect(ref: str) -> dict | None:
    result = buildah("inspect", "--type", "image", ref, check=False)
    return json.loads(result.stdout) if result.returncode == 0 else None


def labels(ref: str) -> dict[str, str]:
    info = inspect(ref) or {}
    return (info.get("OCIv1", {}).get("config", {}) or {}).get("Labels") or {}


def size(ref: str) -> str:
    """The image's unpacked size, as `buildah images` shows it ("259 MB")."""
    return json.loads(buildah("images", "--json", ref).stdout)[0]["size"]


def image_ref(service: str, tag: str) -> str:
    return f"localhost/carnet/{service}:{tag}"


def source_digest() -> str:
    """A digest of every file the Dockerfile copies (tests, benchmarks and caches left out)."""
    digest = hashlib.sha256()
    for name in SOURCES:
        root = REPO / name
        paths = [root] if root.is_file() else sorted(
            p for p in root.rglob("*") if p.is_file() and not SKIPPED_DIRS & set(p.relative_to(root).parts)
            and p.suffix != ".pyc")
        for path in paths:
            digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


# --- the base -----------------------------------------------------------------------------------------

def _base_is_fresh(ref: str) -> bool:
    built = labels(ref).get(BUILT_LABEL)
    return bool(built) and datetime.now(timezone.utc) - datetime.fromisoformat(built) < BASE_MAX_AGE


def make_local_base(cache_dir: Path | None = None, say: Say = print) -> str:
    """A python:3.11-slim-bookworm stand-in from Debian's packages: debootstrap's minimal bookworm with
    python3, venv, pip and the CA certificates; pip may install system-wide, as in the official image.
    Reused while younger than a week (from local storage, else from the cached tarball)."""
    if _base_is_fresh(LOCAL_BASE):
        return LOCAL_BASE
    cache_dir = cache_dir or default_cache_dir()
    tarball = cache_dir / f"python3.11-{DEBIAN_RELEASE}.tar"
    stamp = tarball.with_suffix(".built")
    started = time.monotonic()
    if not (tarball.exists() and stamp.exists()
            and datetime.now(timezone.utc) - datetime.fromisoformat(stamp.read_text().strip()) < BASE_MAX_AGE):
        say(f"making the base {LOCAL_BASE} from Debian's packages (debootstrap {DEBIAN_RELEASE}, about a minute)")
        cache_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="carnet-base-", dir=cache_dir) as scratch:
            root = Path(scratch) / "root"
            result = subprocess.run(
                ["debootstrap", "--variant=minbase", "--include=python3,python3-venv,python3-pip,ca-certificates",
                 DEBIAN_RELEASE, str(root), DEBIAN_MIRROR], capture_output=True, text=True, timeout=900)
            if result.returncode != 0:
                raise StackError(f"debootstrap failed: {(result.stderr or result.stdout).strip()[-400:]}")
            # as in the official image: no package lists or caches, and pip may install outside a venv
            for leftover in ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/man", "usr/share/locale"):
                for child in (root / leftover).glob("*"):
                    if child.is_dir() and not child.is_symlink():
                        shutil.rmtree(child)
                    else:
                        child.unlink()
            for marker in (root / "usr" / "lib").glob("python3.*/EXTERNALLY-MANAGED"):
                marker.unlink()
            partial = tarball.with_suffix(".partial")
            subprocess.run(["tar", "--numeric-owner", "-C", str(root), "-cf", str(partial), "."], check=True)
            partial.replace(tarball)
            stamp.write_text(datetime.now(timezone.utc).isoformat())
    container = buildah("from", "scratch").stdout.strip()
    try:
        buildah("add", container, str(tarball), "/")
        buildah("config", "--env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "--env", "LANG=C.UTF-8", "--cmd", "python3",
                "--label", f"{BUILT_LABEL}={stamp.read_text().strip()}", container)
        buildah("commit", "--quiet", "--rm", container, LOCAL_BASE)
    except BaseException:
        buildah("rm", container, check=False)
        raise
    say(f"base {LOCAL_BASE} ready in {time.monotonic() - started:.0f} s")
    return LOCAL_BASE


def choose_base(base: str | None = None, cache_dir: Path | None = None, say: Say = print) -> str:
    """`base` if given; else the Dockerfile's default if it can be pulled; else the local Debian base."""
    if base:
        return base
    wanted = ops_base()
    if inspect(wanted) is not None or buildah("pull", "--quiet", wanted, check=False, timeout=300).returncode == 0:
        return wanted
    say(f"{wanted} cannot be pulled here: building on {LOCAL_BASE}, the same Debian release and CPython 3.11")
    return make_local_base(cache_dir, say)


# --- the services' images ----------------------------------------------------------------------------

@dataclass
class BuiltImage:
    service: str
    ref: str
    seconds: float
    size: str


def build(service: str, *, base: str, tag: str = "local", digest: str | None = None, say: Say = print) -> BuiltImage:
    """One service's image from the one Dockerfile."""
    ref = image_ref(service, tag)
    started = time.monotonic()
    args = ["bud", "--isolation", "chroot", "--quiet", "-f", str(DOCKERFILE),
            "--ignorefile", str(IGNORE_FILE),
            "--build-arg", f"PYTHON_IMAGE={base}", "--build-arg", f"SERVICE={service}",
            "--label", f"{SOURCE_LABEL}={digest or source_digest()}", "-t", ref]
    if HOST_CA_BUNDLE.exists():
        args += ["-v", f"{HOST_CA_BUNDLE}:{HOST_CA_BUNDLE}:ro"]
    buildah(*args, str(REPO), timeout=1200)
    built = BuiltImage(service, ref, time.monotonic() - started, size(ref))
    say(f"{ref}: built in {built.seconds:.0f} s, {built.size}")
    return built


def build_all(services: list[str] | None = None, *, base: str | None = None, tag: str = "local",
              say: Say = print) -> list[BuiltImage]:
    reason = why_not_buildable()
    if reason:
        raise StackError(reason)
    chosen = choose_base(base, say=say)
    digest = source_digest()
    built = [build(name, base=chosen, tag=tag, digest=digest, say=say) for name in services or SERVICES]
    buildah("rmi", "--prune", check=False)  # the images these replaced (vfs keeps whole copies of each)
    return built


def current(service: str, tag: str = "local") -> bool:
    """True when the service's image exists and was built from the files of this tree."""
    return labels(image_ref(service, tag)).get(SOURCE_LABEL) == source_digest()


# --- running an image on this machine -------------------------------------------------------------------

@dataclass
class ImageContainer:
    """A working container of an image, whose commands run with `buildah run --isolation chroot` on the
    host's network (`podman run` is refused on these machines), as the image's own user."""

    ref: str
    env: dict[str, str]
    mounts: dict[Path, Path]
    log_file: Path
    name: str | None = None
    process: subprocess.Popen | None = None

    def create(self) -> ImageContainer:
        self.name = buildah("from", "--quiet", "--pull=never", self.ref).stdout.strip()
        return self

    def entrypoint(self) -> list[str]:
        """What a container runtime starts: the image's ENTRYPOINT followed by its CMD."""
        config = (inspect(self.ref) or {}).get("OCIv1", {}).get("config", {})
        return list(config.get("Entrypoint") or []) + list(config.get("Cmd") or [])

    def _run_args(self, command: list[str]) -> list[str]:
        args = ["buildah", "--storage-driver", "vfs", "run", "--isolation", "chroot"]
        for key, value in self.env.items():
            args += ["--env", f"{key}={value}"]
        for source, target in self.mounts.items():
            args += ["-v", f"{source}:{target}"]
        return [*args, self.name, "--", *command]

    def run(self, command: list[str], *, timeout: float = 120) -> subprocess.CompletedProcess:
        """A command run to its end (the Kubernetes init container's migrations, for one)."""
        with open(self.log_file, "ab") as out:
            return subprocess.run(self._run_args(command), stdout=out, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, timeout=timeout)

    def start(self, command: list[str] | None = None) -> subprocess.Popen:
        """The image's entrypoint (or `command`) in the background, in its own process group."""
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as out:
            self.process = subprocess.Popen(self._run_args(command or self.entrypoint()), stdout=out,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True)
        return self.process

    def processes(self) -> list:
        """The processes started inside the container (buildah's own helpers left out)."""
        import psutil

        if self.process is None:
            return []
        try:
            children = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        return [p for p in children if not (p.cmdline()[:1] or [""])[0].startswith("buildah")]

    def stop(self) -> None:
        from .processes import stop_pid

        if self.process is not None:
            stop_pid(self.process.pid, timeout=15)
            self.process.wait(timeout=10)
            self.process = None
        if self.name is not None:
            buildah("rm", self.name, check=False)
            self.name = None

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m carnet_local.images", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build_cmd = commands.add_parser("build", help="build the services' images from deploy/docker/Dockerfile")
    build_cmd.add_argument("services", nargs="*", metavar="SERVICE", help=f"some of {', '.join(SERVICES)} (all by default)")
    build_cmd.add_argument("--base", help=f"the base image (default: {ops_base()} if it can be pulled, else {LOCAL_BASE})")
    build_cmd.add_argument("--tag", default="local")
    options = parser.parse_args(argv)
    unknown = set(options.services) - set(SERVICES)
    if unknown:
        parser.error(f"unknown services {sorted(unknown)}: {', '.join(SERVICES)}")
    started = time.monotonic()
    try:
        built = build_all(options.services or None, base=options.base, tag=options.tag,
                          say=lambda line: print(line, flush=True))
    except StackError as exc:
        print(f"images: {exc}", file=sys.stderr)
        return 1
    print(f"{len(built)} images in {time.monotonic() - started:.0f} s: "
          + ", ".join(f"{b.service} {b.size}" for b in built))
    return 0


if __name__ == "__main__":
    sys.exit(main())
