#!/usr/bin/env python3
"""Stand-ins for the local tools `temporalctl images build` runs, for the demo and the
tests: nothing is compiled or built, every call is recorded, and the push lands in the
emulator's ECR (PutImage at AWS_ENDPOINT_URL), as `docker push` lands in ECR on AWS.

    emulated-build-tools.py install DIR

writes DIR/bin/go and DIR/bin/docker (this script; put DIR/bin first on PATH) and a
checkout of the fork with the folders the build reads at DIR/temporal-dsql. The calls are
recorded in DIR/calls.jsonl, what `docker login` read on stdin in DIR/login-stdin.

- `go build -o OUT PKG` writes OUT, failing when PKG is not in the checkout; `go install
  PKG@V` writes where Go puts a cross-compiled binary; `go env` answers.
- `docker buildx build` fails like Docker when a COPY source is missing from the context,
  then pushes every --tag when --push is given. DIR/no-buildx makes buildx missing.
"""
import hashlib, json, os, sys, urllib.request

FORK = {
    "go.mod": "module go.temporal.io/server\n\ngo 1.25.0\n",
    "cmd/server/main.go": "package main\n",
    "cmd/tools/cassandra/main.go": "package main\n",
    "cmd/tools/sql/main.go": "package main\n",
    "cmd/tools/elasticsearch/main.go": "package main\n",
    "cmd/tools/tdbg/main.go": "package main\n",
    "cmd/tools/dsql/main.go": "package main\n",
    "schema/dsql/v12/temporal/schema.sql": "CREATE TABLE namespaces (id BYTEA);\n",
    # The COPY lines as the fork's Dockerfiles write them.
    "docker/targets/server.Dockerfile": "ARG ALPINE_TAG=3.23.3\nFROM --platform=$TARGETPLATFORM alpine:${ALPINE_TAG}\nARG TARGETARCH\nCOPY --chmod=755 ./build/${TARGETARCH}/temporal-server /usr/local/bin/\nUSER temporal\n",
    "docker/targets/admin-tools.Dockerfile": "ARG ALPINE_TAG=3.23.3\nFROM --platform=$TARGETPLATFORM alpine:${ALPINE_TAG}\nARG TARGETARCH\nCOPY --chmod=755 ./build/${TARGETARCH}/temporal ./build/${TARGETARCH}/temporal-cassandra-tool ./build/${TARGETARCH}/temporal-sql-tool ./build/${TARGETARCH}/temporal-elasticsearch-tool ./build/${TARGETARCH}/tdbg /usr/local/bin/\nCOPY ./build/temporal/schema /etc/temporal/schema\nUSER temporal\n",
}

if os.path.basename(sys.argv[0]) not in ("go", "docker"):
    if sys.argv[1:2] != ["install"] or len(sys.argv) != 3:
        sys.exit(__doc__)
    home = os.path.abspath(sys.argv[2])
    os.makedirs(os.path.join(home, "bin"), exist_ok=True)
    script = open(os.path.abspath(__file__)).read().split("\n", 1)[1]
    for tool in ("go", "docker"):
        path = os.path.join(home, "bin", tool)
        with open(path, "w") as out:
            out.write("#!" + sys.executable + "\n" + script)
        os.chmod(path, 0o755)
    for path, text in FORK.items():
        path = os.path.join(home, "temporal-dsql", path)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as out:
            out.write(text)
    sys.exit(0)
tool, args = os.path.basename(sys.argv[0]), sys.argv[1:]
HOME = os.path.dirname(os.path.dirname(os.path.abspath(sys.argv[0])))
keep = ("GOOS", "GOARCH", "CGO_ENABLED", "GOBIN")
with open(os.path.join(HOME, "calls.jsonl"), "a") as log:
    log.write(json.dumps({"tool": tool, "args": args, "cwd": os.getcwd(),
                          "env": {k: os.environ[k] for k in keep if k in os.environ}}) + "\n")

def fail(message):
    sys.stderr.write(message + "\n")
    sys.exit(1)

def flag(name):
    return [args[i + 1] for i, a in enumerate(args) if a == name]

if tool == "go":
    gopath = os.path.join(HOME, "gopath")
    if args[0] == "version":
        print("go version go1.25.0 linux/amd64")
    elif args[0] == "env":
        print(gopath + "\nlinux\namd64")
    elif args[0] == "build":
        package = args[-1]
        if not os.path.isdir(package):
            fail("package %s is not in std" % package)
        with open(flag("-o")[0], "w") as out:
            out.write("%s %s/%s\n" % (package, os.environ.get("GOOS"), os.environ.get("GOARCH")))
    elif args[0] == "install":
        target = os.path.join(gopath, "bin", "linux_arm64")
        os.makedirs(target, exist_ok=True)
        with open(os.path.join(target, "temporal"), "w") as out:
            out.write(args[-1] + "\n")
    else:
        fail("go: unknown command " + args[0])
    sys.exit(0)

builder = os.path.join(HOME, "builder")
if args[:1] == ["version"]:
    print("27.3.1")
elif args[:2] == ["buildx", "version"]:
    if os.path.exists(os.path.join(HOME, "no-buildx")):
        fail("docker: 'buildx' is not a docker command.")
    print("github.com/docker/buildx v0.17.1")
elif args[:2] == ["buildx", "create"]:
    open(builder, "w").close()
elif args[:2] == ["buildx", "inspect"]:
    if not os.path.exists(builder):
        fail('ERROR: no builder "temporalctl" found')
    print("Name: temporalctl\nDriver: docker-container\nPlatforms: linux/amd64, linux/arm64*\n")
elif args[:1] == ["login"]:
    with open(os.path.join(HOME, "login-stdin"), "w") as out:
        out.write(sys.stdin.read())
    print("Login Succeeded")
elif args[:2] == ["buildx", "build"]:
    dockerfile = open(flag("--file")[0]).read()
    for line in dockerfile.splitlines():
        words = line.split()
        if words[:1] != ["COPY"]:
            continue
        sources = [w for w in words[1:-1] if not w.startswith("--")]
        for source in sources:
            path = source.replace("${TARGETARCH}", "arm64")
            if not os.path.exists(path):
                fail('ERROR: failed to calculate checksum: "/%s": not found' % path.lstrip("./"))
    if "--push" in args:
        # What was built: the Dockerfile and the labels (another version is another image).
        # moto's ECR derives an image's digest from its layers' digests alone (AWS: from
        # the manifest), so the build is one layer named after it.
        built = "sha256:" + hashlib.sha256((dockerfile + "\n".join(flag("--label"))).encode()).hexdigest()
        manifest = json.dumps({"schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1, "digest": built},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 1, "digest": built}]})
        for reference in flag("--tag"):
            host, rest = reference.split("/", 1)
            repository, tag = rest.rsplit(":", 1)
            region = host.split(".")[3]
            body = json.dumps({"repositoryName": repository, "imageTag": tag, "imageManifest": manifest})
            request = urllib.request.Request(os.environ["AWS_ENDPOINT_URL"], data=body.encode(), method="POST",
                headers={"Content-Type": "application/x-amz-json-1.1",
                         "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.PutImage",
                         "X-Amz-Date": "20261206T000000Z",
                         "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20261206/%s/ecr/aws4_request, SignedHeaders=host, Signature=0" % region})
            try:
                urllib.request.urlopen(request).read()
            except urllib.error.HTTPError as e:
                if b"ImageAlreadyExists" not in e.read():
                    fail("push %s: %s" % (reference, e))
else:
    fail("docker: unknown command " + " ".join(args))
