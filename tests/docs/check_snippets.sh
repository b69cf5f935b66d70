#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Compiles every C++ snippet of one Markdown document, so the documentation
# cannot drift from the API it shows (Rust's doctests, compile only).
#
# Usage: check_snippets.sh --prelude <dir> <compiler> [flags...]
#        check_snippets.sh <source root> <document, relative to the root> <dir> <compiler> [flags...]
# The flags come from CMake: the project's warnings, -Werror, -std and the
# include directories of aiod::client (tests/docs/CMakeLists.txt). The first
# form precompiles the prelude into <dir> (a ctest fixture runs it once); the
# second compiles the document's blocks against it, and with the header
# itself if <dir> holds no current copy (slower, same result).
#
# The contract for doc authors:
#   A fenced block (``` or ~~~, indented or not) whose language (the first
#   word of its info string) is cpp, c++ or C++, in any case, is compiled
#   (-fsyntax-only); every other block is left alone, so pseudo-code, shell
#   and output must not be marked cpp. What follows the language says how
#   the block is compiled:
#
#     ```cpp                      a whole translation unit: declarations,
#                                 functions, main().
#     ```cpp fragment             statements: the body of a function
#                                 `void f()`.
#     ```cpp fragment(PARAMS)     statements: the body of `void f(PARAMS)`;
#                                 PARAMS declares the names the block uses
#                                 without declaring them, e.g.
#                                 ```cpp fragment(aiod::Client& client, aiod::Handle f)
#                                 Renderers show only the language, so the
#                                 reader sees the statements alone.
#
#   Anything else after the language fails the check (a misspelt marker would
#   otherwise change what is compiled). In a fragment, #include lines are
#   moved in front of the function. Every block is compiled on its own, after
#   snippet_prelude.hpp (libaiod's public headers, common standard headers,
#   std::chrono_literals, namespace coro = aiod::coro), with the project's
#   warnings as errors: an unused variable or a dropped [[nodiscard]] result
#   fails too. Errors point at the document's own lines (#line).
#
# A document without C++ blocks passes. Exit status: 0 if every block
# compiles, 1 otherwise, with each failing block printed beside its errors.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
prelude=$here/snippet_prelude.hpp

if [[ ${1:-} == --prelude ]] && (($# >= 3)); then
  dir=$2
  shift 2
  rm -f "$dir/snippet_prelude.hpp.gch"
  mkdir -p "$dir" && cp "$prelude" "$dir/snippet_prelude.hpp" || exit 1
  # No #pragma once in the prelude: compiled on its own it is a main file, and GCC warns there.
  exec "$@" -x c++-header "$dir/snippet_prelude.hpp" -o "$dir/snippet_prelude.hpp.gch"
fi
if (($# < 4)); then
  echo "usage: $0 --prelude <dir> <compiler> [flags...]" >&2
  echo "       $0 <source root> <document> <dir> <compiler> [flags...]" >&2
  exit 2
fi
root=$1
doc=$2
# The precompiled copy, if it is the current prelude (the compiler uses
# <dir>/snippet_prelude.hpp.gch in place of the header it was made from).
if cmp -s "$prelude" "$3/snippet_prelude.hpp"; then prelude=$(cd "$3" && pwd)/snippet_prelude.hpp; fi
shift 3
[[ -f $root/$doc ]] || { echo "FAIL: no such document: $root/$doc"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Writes, per C++ block k, $tmp/k.cpp (the translation unit to compile) and
# $tmp/k.md (the block as the document has it, lines numbered), and lists
# "k<TAB>line<TAB>info" in $tmp/blocks. Malformed blocks go to $tmp/errors.
awk -v doc="$doc" -v out="$tmp" '
  function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
  function fence_of(line,   m) {  # the fence that opens/closes at this line, or ""
    if (match(line, /^[ \t]*(```+|~~~+)/)) {
      m = substr(line, RSTART, RLENGTH); sub(/^[ \t]+/, "", m); return m
    }
    return ""
  }
  function flush(   f, i, line, body_start, params, mode) {
    k++
    f = out "/" k ".cpp"
    mode = rest
    if (mode == "") {
      printf "#line %d \"%s\"\n", start + 1, doc > f
      for (i = 1; i <= n; i++) print lines[i] > f
    } else {
      params = ""
      if (mode ~ /^fragment\(.*\)$/) params = substr(mode, 10, length(mode) - 10)
      for (i = 1; i <= n; i++)
        if (lines[i] ~ /^[ \t]*#[ \t]*include/) {
          printf "#line %d \"%s\"\n%s\n", start + i, doc, lines[i] > f
          lines[i] = ""
        }
      printf "void aiod_doc_snippet_at_line_%d(%s) {\n", start, params > f
      printf "#line %d \"%s\"\n", start + 1, doc > f
      for (i = 1; i <= n; i++) print lines[i] > f
      print "}" > f
    }
    close(f)
    for (i = 1; i <= n; i++) printf "%5d | %s\n", start + i, lines_shown[i] > (out "/" k ".md")
    close(out "/" k ".md")
    printf "%d\t%d\t%s\n", k, start, info > (out "/blocks")
  }
  BEGIN { inside = 0; k = 0; printf "" > (out "/blocks"); printf "" > (out "/errors") }
  {
    fence = fence_of($0)
    if (!inside) {
      if (fence == "") next
      inside = 1; open = fence; start = NR; n = 0
      indent = $0; sub(/[^ \t].*$/, "", indent)
      info = trim(substr($0, length(indent) + length(fence) + 1))
      lang = info; sub(/[ \t].*$/, "", lang)
      rest = trim(substr(info, length(lang) + 1))
      cpp = (tolower(lang) == "cpp" || tolower(lang) == "c++")
      if (cpp && rest != "" && rest != "fragment" && rest !~ /^fragment\(.*\)$/) {
        printf "%s:%d: unknown marker \"%s\" after %s: use ```%s, ```%s fragment or ```%s fragment(PARAMS)\n",
               doc, NR, rest, lang, lang, lang, lang >> (out "/errors")
        cpp = 0
      }
      if (rest == "fragment") rest = "fragment()"
      next
    }
    # Inside a block: a fence of the same kind, at least as long, with
    # nothing after it, closes it.
    if (fence != "" && substr(fence, 1, 1) == substr(open, 1, 1) && length(fence) >= length(open) &&
        trim(substr(trim($0), length(fence) + 1)) == "") {
      if (cpp) flush()
      inside = 0
      next
    }
    if (cpp) {
      line = $0
      # Drop the fence'"'"'s indentation from the content (CommonMark).
      for (i = 1; i <= length(indent) && substr(line, 1, 1) ~ /[ \t]/; i++) line = substr(line, 2)
      lines[++n] = line
      lines_shown[n] = line
    }
  }
  END {
    if (inside) printf "%s:%d: the block opened here is never closed\n", doc, start >> (out "/errors")
  }
' "$root/$doc" || { echo "FAIL: could not read $doc"; exit 1; }

status=0
if [[ -s $tmp/errors ]]; then
  cat "$tmp/errors"
  status=1
fi

# Compile every block at once; collect the results in document order.
declare -A pid
while IFS=$'\t' read -r k line info; do
  # From the root, so the compiler quotes the document's own lines under its errors.
  (cd "$root" && exec "$@" -fsyntax-only -include "$prelude" "$tmp/$k.cpp") >"$tmp/$k.log" 2>&1 &
  pid[$k]=$!
done <"$tmp/blocks"

count=0
while IFS=$'\t' read -r k line info; do
  count=$((count + 1))
  if wait "${pid[$k]}"; then
    echo "ok   $doc:$line ($info)"
  else
    status=1
    echo "FAIL $doc:$line ($info) does not compile:"
    cat "$tmp/$k.md"
    echo "---- compiler output:"
    cat "$tmp/$k.log"
    echo "----"
  fi
done <"$tmp/blocks"

if ((count == 0)); then
  echo "ok   $doc has no C++ blocks"
fi
exit $status
