#!/usr/bin/env python3
"""Writes conf/docker-seccomp.json: Docker's default seccomp profile plus io_uring_setup,
io_uring_enter and io_uring_register, which Docker's default refuses (EPERM) and ringd needs.

    tools/seccomp/make-profile.py DOCKER_DEFAULT_JSON [OUTPUT]

DOCKER_DEFAULT_JSON is Docker's own profile, from the moby project: profiles/seccomp/default.json
of github.com/moby/profiles (vendored in moby/moby as vendor/github.com/moby/profiles/seccomp/).
conf/docker-seccomp.json was made from moby/profiles seccomp v0.2.3, as vendored in moby/moby
commit b985e2313a8676e18072b442911fc8f64f17d440. Everything in Docker's profile is kept as it is,
in its order; one rule is appended. Run it again on a newer default.json to follow Docker.
"""
import json
import sys

IO_URING = ["io_uring_enter", "io_uring_register", "io_uring_setup"]


def with_io_uring(profile):
    for rule in profile["syscalls"]:
        if set(IO_URING) & set(rule.get("names", [])) and rule.get("action") == "SCMP_ACT_ALLOW":
            sys.exit("the profile already allows io_uring: nothing to add")
    profile["syscalls"].append({
        "names": IO_URING,
        "action": "SCMP_ACT_ALLOW",
        "comment": "ringd: its event loops run on io_uring (added to Docker's default by tools/seccomp/make-profile.py)",
    })
    return profile


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    with open(sys.argv[1], encoding="utf-8") as source:
        profile = with_io_uring(json.load(source))
    output = sys.argv[2] if len(sys.argv) == 3 else "conf/docker-seccomp.json"
    with open(output, "w", encoding="utf-8") as target:
        json.dump(profile, target, indent="\t")
        target.write("\n")


if __name__ == "__main__":
    main()
