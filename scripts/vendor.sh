#!/usr/bin/env bash
# Refresh the vendored front-end files from the versions pinned in package.json.
# Run after changing package.json; commit the result. A Python install needs no Node.
set -euo pipefail
cd "$(dirname "$0")/.."
npm install --no-audit --no-fund --ignore-scripts
dest=src/ecomops/web/static/vendor
rm -rf "$dest/swagger-ui"
mkdir -p "$dest/swagger-ui"
for f in swagger-ui-bundle.js swagger-ui.css LICENSE; do
  cp "node_modules/swagger-ui-dist/$f" "$dest/swagger-ui/"
done
echo "vendored into $dest"
