#!/usr/bin/env bash
# Copies the console's front-end libraries from npm (versions pinned in
# package.json and package-lock.json) into internal/web/static/vendor with
# their licenses, and records their SHA-256 in SHA256SUMS; a test checks the
# embedded files against it. Run by `make console-assets`; the result is
# committed, so neither a build nor a run needs npm or the network.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --ignore-scripts --no-audit --no-fund >/dev/null
out=internal/web/static/vendor
rm -rf "$out" && mkdir -p "$out/htmx" "$out/uplot"
htmx=$(node -p 'require("./node_modules/htmx.org/package.json").version')
uplot=$(node -p 'require("./node_modules/uplot/package.json").version')
cp node_modules/htmx.org/dist/htmx.min.js node_modules/htmx.org/LICENSE "$out/htmx/"
cp node_modules/uplot/dist/uPlot.iife.min.js node_modules/uplot/dist/uPlot.min.css node_modules/uplot/LICENSE "$out/uplot/"
printf 'htmx.org %s\nuplot %s\n' "$htmx" "$uplot" > "$out/VERSIONS"
(cd "$out" && sha256sum htmx/* uplot/* VERSIONS > SHA256SUMS)
echo "vendored htmx.org $htmx and uplot $uplot into $out"
