#!/usr/bin/env bash
# Refresh the vendored front-end files from the versions pinned in package.json.
# Run after changing package.json; commit the result. A Python install needs no Node.
#   swagger-ui  API docs at /docs
#   htmx        partial page updates in the console (2.x; htmx.org@latest is the 4.x major)
#   alpine      @alpinejs/csp: the Alpine build that never calls eval/new Function (our CSP has no
#               'unsafe-eval'); components are registered from static JS with Alpine.data
#   echarts     charts for the dashboards
set -euo pipefail
cd "$(dirname "$0")/.."
npm install --no-audit --no-fund --ignore-scripts
dest=src/ecomops/web/static/vendor
modules=node_modules

vendor() {  # vendor <name> <license file> <files…>: copy into $dest/<name>/ (replacing what was there)
  local name=$1 license=$2
  shift 2
  rm -rf "${dest:?}/$name"
  mkdir -p "$dest/$name"
  cp "$license" "$dest/$name/LICENSE"
  for f in "$@"; do cp "$f" "$dest/$name/"; done
}

vendor swagger-ui "$modules/swagger-ui-dist/LICENSE" \
  "$modules/swagger-ui-dist/swagger-ui-bundle.js" "$modules/swagger-ui-dist/swagger-ui.css"
vendor htmx "$modules/htmx.org/LICENSE" "$modules/htmx.org/dist/htmx.min.js"
# @alpinejs/csp ships no LICENSE file; its package.json says MIT. Write Alpine's MIT licence (text of
# github.com/alpinejs/alpine/blob/main/LICENSE.md) plus the notice of @vue/reactivity bundled in the build.
vendor alpine node_modules/@alpinejs/csp/package.json "$modules/@alpinejs/csp/dist/cdn.min.js"
[ "$(node -p 'require("./node_modules/@alpinejs/csp/package.json").license')" = MIT ] \
  || { echo "@alpinejs/csp is no longer MIT-licensed: review before vendoring" >&2; exit 1; }
cat > "$dest/alpine/LICENSE" <<'MIT'
@alpinejs/csp — MIT License

Copyright © 2019-2025 Caleb Porzio and contributors

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
associated documentation files (the "Software"), to deal in the Software without restriction,
including without limitation the rights to use, copy, modify, merge, publish, distribute, sublicense,
and/or sell copies of the Software, and to permit persons to whom the Software is furnished to do so,
subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or substantial
portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT
LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN
NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY,
WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE
SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.

Bundled: @vue/reactivity (MIT License, Copyright (c) 2018-present, Yuxi (Evan) You and Vue contributors).
MIT
vendor echarts "$modules/echarts/LICENSE" "$modules/echarts/NOTICE" "$modules/echarts/dist/echarts.min.js"
# A record of exactly what is vendored, for reviews and licence audits.
node -e '
  const fs = require("fs");
  const names = ["swagger-ui-dist", "htmx.org", "@alpinejs/csp", "echarts"];
  const out = names.map(n => `${n} ${JSON.parse(fs.readFileSync(`node_modules/${n}/package.json`)).version}`);
  fs.writeFileSync(process.argv[1], out.join("\n") + "\n");
' "$dest/VERSIONS"
echo "vendored into $dest:"
cat "$dest/VERSIONS"
