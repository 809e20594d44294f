#!/usr/bin/env bash
# Writes the bash completion for kiln (and awstoe) from what a built kiln prints, so it
# cannot drift from --help (tests/packaging/run.sh checks the installed file against the
# installed binary too):
#   commands        the ones `kiln --help` names (packaging/help-words.sh)
#   options         every --long option in `kiln <command> --help` (and, for no command,
#                   `kiln --help`); "-x, --long" pairs complete like the long option
#   option values   "--opt a|b|c" in the help: those words; a DIR placeholder: folders;
#                   anything else: files
#   packaging/completion/generate.sh BINARY OUTPUT_FILE [NAME...]
# NAMEs are the commands completed (default: kiln awstoe); kilnctl is made the same way.
set -euo pipefail
kiln="$1"
out="$2"
shift 2
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(kiln awstoe)
function_name="_${names[0]//-/_}"
top_help=$("$kiln" --help)
. "$(dirname "$0")/../help-words.sh"
commands=$(kiln_help_commands "$top_help" | paste -sd' ' -)
# Every command's own help too: the overview names only the common options.
all_help="$top_help"
for command in $commands; do all_help+=$'\n'$("$kiln" "$command" --help 2>&1 || true); done
options_of() { kiln_help_options "$1" | paste -sd' ' -; }
# "-d, --documents" pairs, as "-d=--documents".
shorts_of() { { printf '%s\n' "$1" | grep -oE '(^|[ [])-[a-zA-Z], --[a-z][a-z0-9-]*' || true; } | sed -E 's/^[ [ ]*//; s/, /=/' | sort -u; }
{
  echo "# bash completion for ${names[*]}. Generated from \`${names[0]} --help\` by"
  echo "# packaging/completion/generate.sh when kiln is built: do not edit."
  echo "$function_name() {"
  echo "  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]}"
  echo "  local commands=\"$commands\" command=\"\" word"
  echo "  for word in \"\${COMP_WORDS[@]:1:COMP_CWORD-1}\"; do"
  echo "    case \" \$commands \" in *\" \$word \"*) command=\$word; break ;; esac"
  echo "  done"
  echo "  case \$prev in"
  while IFS='=' read -r short long; do
    [ -n "$short" ] && echo "    $short) prev=$long ;;"
  done < <(shorts_of "$all_help")
  echo "  esac"
  echo "  case \$prev in"
  # "--opt a|b|c": the choices; the longest list given for an option wins.
  { printf '%s\n' "$all_help" | grep -oE -- '--[a-z][a-z0-9-]* [a-z0-9]+(\|[a-z0-9]+)+' || true; } | sort -u |
    awk '{ if (length($2) > length(v[$1])) v[$1] = $2 } END { for (o in v) print o, v[o] }' | sort |
    while read -r option choices; do
      echo "    $option) COMPREPLY=(\$(compgen -W \"${choices//|/ }\" -- \"\$cur\")); return ;;"
    done
  dirs=$({ printf '%s\n' "$all_help" | grep -oE -- '--[a-z][a-z0-9-]* DIR\b' || true; } | awk '{print $1}' | sort -u | paste -sd'|' -)
  [ -n "$dirs" ] && echo "    $dirs) COMPREPLY=(\$(compgen -d -- \"\$cur\")); return ;;"
  echo "  esac"
  echo "  if [[ -z \$command && \$cur != -* ]]; then"
  echo "    COMPREPLY=(\$(compgen -W \"\$commands\" -- \"\$cur\")); return"
  echo "  fi"
  echo "  local options"
  echo "  case \$command in"
  for command in $commands; do
    help=$("$kiln" "$command" --help 2>&1) || help="$top_help"
    echo "    $command) options=\"$(options_of "$help")\" ;;"
  done
  echo "    *) options=\"$(options_of "$top_help")\" ;;"
  echo "  esac"
  echo "  if [[ \$cur == -* ]]; then"
  echo "    COMPREPLY=(\$(compgen -W \"\$options\" -- \"\$cur\"))"
  echo "  else"
  echo "    COMPREPLY=(\$(compgen -f -- \"\$cur\"))"
  echo "  fi"
  echo "}"
  echo "complete -F $function_name ${names[*]}"
} >"$out"
