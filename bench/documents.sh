# Generated benchmark documents, shared by bench/run.sh and bench/compare_builds.sh.
# Source it with DOCS set to the folder that receives them.

# steps NAME COUNT ACTION INPUT_LINE...: a one-phase document of COUNT identical steps.
steps() {
  local name=$1 count=$2 action=$3; shift 3
  {
    printf 'name: %s\nschemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n' "$name"
    for ((i = 0; i < count; i++)); do
      printf '      - name: Step%d\n        action: %s\n        inputs:\n' "$i" "$action"
      printf '          %s\n' "$@"
    done
  } >"$DOCS/$name.yml"
}

# big10k: 10,000 ExecuteBash steps that each echo their number (row 3b).
big10k() {
  {
    printf 'name: big\nschemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n'
    for ((i = 0; i < 10000; i++)); do
      printf '      - name: Step%d\n        action: ExecuteBash\n        inputs:\n          commands:\n            - echo "step %d"\n' "$i" "$i"
    done
  } >"$DOCS/big10k.yml"
}
