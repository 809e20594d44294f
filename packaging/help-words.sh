# Reads kiln's --help text; sourced by packaging/man/generate.sh,
# packaging/completion/generate.sh and tests/packaging/run.sh, so the three agree on what
# the help names.
#   kiln_help_commands "$help"  the subcommands: the word after "kiln" on usage lines
#                               ("  kiln run ...", "Usage: kiln run ..."), and the first
#                               word of each indented line under a "Commands:" heading
#   kiln_help_options "$help"   every --long option mentioned
kiln_help_commands() {
  printf '%s\n' "$1" | awk '
    /^[[:space:]]*$/ { in_commands = 0; next }
    /^[A-Za-z ]*[Cc]ommands:[[:space:]]*$/ { in_commands = 1; next }
    in_commands && /^[[:space:]]+[a-z][a-z-]*([[:space:]]|$)/ { print $1; next }
    /^[A-Za-z]/ { in_commands = 0 }
    match($0, /^[[:space:]]*(Usage:[[:space:]]*)?(kiln|awstoe)[[:space:]]+[a-z][a-z-]*/) {
      n = split(substr($0, RSTART, RLENGTH), words, /[[:space:]]+/); print words[n]
    }' | sort -u
}
kiln_help_options() {
  printf '%s\n' "$1" | grep -oE '(^|[ [,|])--[a-z][a-z0-9-]*' | sed 's/^[ [,|]//' | sort -u
}
