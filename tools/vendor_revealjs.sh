#!/usr/bin/env bash
# Refresh vendor/reveal.js from the npm registry (the only time a network is needed; the
# result is committed so that `make slides` builds offline from a fresh clone).
# Keeps only what the decks load, plus the licence; the theme's web-font @import is dropped
# (the decks fall back to the system sans-serif), which saves 1.8 MB of fonts.
set -euo pipefail
VERSION=${1:-5.2.1}
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "reveal.js@$VERSION" >/dev/null && tar xzf "reveal.js-$VERSION.tgz")
sha=$(sha256sum "$tmp/reveal.js-$VERSION.tgz" | cut -d' ' -f1)
out=vendor/reveal.js
rm -rf "$out"
mkdir -p "$out/dist/theme" "$out/plugin/notes"
cp "$tmp/package/LICENSE" "$out/LICENSE"
cp "$tmp/package/dist/reveal.js" "$tmp/package/dist/reveal.css" "$out/dist/"
grep -v '^@import url(./fonts/' "$tmp/package/dist/theme/white.css" > "$out/dist/theme/white.css"
cp "$tmp/package/plugin/notes/notes.js" "$out/plugin/notes/"
cat > "$out/VENDORED.md" <<MD
reveal.js $VERSION (MIT, see LICENSE), from \`npm pack reveal.js@$VERSION\`
(tarball sha256 $sha), by tools/vendor_revealjs.sh.
Kept: dist/reveal.js, dist/reveal.css, dist/theme/white.css (its @import of web fonts removed),
plugin/notes/notes.js (speaker view: press S on a slide).
MD
du -sh "$out"
