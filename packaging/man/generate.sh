#!/usr/bin/env bash
# Writes man pages for a built kiln with help2man, from what the binary itself prints, so
# a page cannot drift from --help:
#   kiln.1            from `kiln --help` and `kiln --version`
#   kiln-<command>.1  for each command `kiln --help` names (packaging/help-words.sh) whose own
#                     `kiln <command> --help` prints something else (subcommand help)
#   awstoe.1          a symlink to kiln.1 (awstoe is the same program)
# Pages are gzip-compressed (-n: no timestamp, so builds are reproducible).
#   packaging/man/generate.sh KILN_BINARY OUTPUT_DIR
set -euo pipefail
kiln="$1"
out="$2"
rm -rf "$out"
mkdir -p "$out"
name="AWSTOE-compatible component runner"
help2man --no-info --no-discard-stderr --name "$name" --output "$out/kiln.1" "$kiln"
top_help=$("$kiln" --help)
version=$("$kiln" --version | head -1 | awk '{print $2}')
. "$(dirname "$0")/../help-words.sh"
commands=$(kiln_help_commands "$top_help")
for command in $commands; do
  help=$("$kiln" "$command" --help 2>&1) || continue
  [ "$help" = "$top_help" ] && continue
  # Named kiln-<command> (the page's title and NAME), with kiln's version.
  help2man --no-info --no-discard-stderr --name "the $command command of kiln" \
    --version-string "kiln-$command $version" --help-option="$command --help" \
    --output "$out/kiln-$command.1" "$kiln"
done
for page in "$out"/*.1; do gzip -9nf "$page"; done
ln -sf kiln.1.gz "$out/awstoe.1.gz"
