#!/usr/bin/env bash
# Broken-config corpus against the real binary: `kvscope validate` must
# reject every tests/configs/bad_*.yaml with exit status 2 and a message on
# stderr containing the file's "# expect: <text>" (first line), and accept
# pipeline.yaml.example with exit status 0.
# Env: KVSCOPE (the binary), KVS_SOURCE_DIR (the source tree).
set -u

: "${KVSCOPE:?KVSCOPE must name the kvscope binary}"
: "${KVS_SOURCE_DIR:?KVS_SOURCE_DIR must name the source tree}"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Relative paths in the configs (fixtures/, out/) resolve from the source tree.
cd "$KVS_SOURCE_DIR" || exit 1

# shellcheck source=tests/integration/lib.sh
. "$KVS_SOURCE_DIR/tests/integration/lib.sh"

run() {
    if command -v timeout >/dev/null 2>&1; then
        timeout 60 "$KVSCOPE" validate --config "$1" >"$tmp/out" 2>"$tmp/err"
    else
        "$KVSCOPE" validate --config "$1" >"$tmp/out" 2>"$tmp/err"
    fi
}
# rejected NAME WHY: a failed check, with what kvscope wrote on stderr.
rejected() {
    ko "$1: $2"
    sed 's/^/    stderr: /' "$tmp/err"
}

shopt -s nullglob
files=("$KVS_SOURCE_DIR"/tests/configs/bad_*.yaml)
if [ ${#files[@]} -eq 0 ]; then
    ko "no tests/configs/bad_*.yaml found under $KVS_SOURCE_DIR"
fi

for f in "${files[@]}"; do
    name=$(basename "$f")
    first=$(head -n 1 "$f")
    case "$first" in
    "# expect: "?*) want=${first#"# expect: "} ;;
    *)
        : >"$tmp/err"
        rejected "$name" "the first line must be \"# expect: <text>\""
        continue
        ;;
    esac
    run "$f"
    rc=$?
    if [ "$rc" -ne 2 ]; then
        rejected "$name" "exit status $rc, want 2"
    elif ! grep -qF -- "$want" "$tmp/err"; then
        rejected "$name" "stderr does not contain: $want"
    else
        ok "$name"
    fi
done

example="$KVS_SOURCE_DIR/pipeline.yaml.example"
run "$example"
rc=$?
if [ "$rc" -ne 0 ]; then
    rejected "pipeline.yaml.example" "exit status $rc, want 0"
else
    ok "pipeline.yaml.example"
fi

summary
