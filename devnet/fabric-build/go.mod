// The Fabric release opssc builds its devnet binaries from. This file is the one
// place the version is pinned; `opssc-devnet` reads both lines below.
//
// fabric-release: v2.5.9
// fabric-commit: 7c3876255bf064b789a839ce347b6a02adb6333c
//
// Fabric's module path has no /v2 suffix, so its semver tags are unusable from
// Go; the proxy serves the commit as the pseudo-version below. go.sum pins the
// hashes of every module the build downloads.
module opssc.local/fabricbuild

go 1.22

require github.com/hyperledger/fabric v0.0.0-20240618194258-7c3876255bf0
