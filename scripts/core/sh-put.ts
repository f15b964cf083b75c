/**
 * The one checked file writer the root scripts share (tuning's apply, the services script): a failed
 * write (full disk, read-only mount) never moves an empty or half file into place and never reports
 * "changed"; it names the step on stderr ("loadfleet: step write <path> failed: <why>") and exits 1.
 * Error output goes to a private mktemp file, never to a fixed /tmp path another user could plant a link at.
 */

/**
 * sh lines defining `$err`, `fail STEP` (exits 1 with the step and what $err holds) and
 * `put PATH MODE BASE64`: writes PATH only when its content differs, prints "changed PATH" and returns 0
 * then; returns 1 when PATH already had that content.
 */
export const CHECKED_PUT_SH: readonly string[] = [
  'err=$(mktemp) || { echo "loadfleet: step mktemp failed: cannot create a private temporary file" >&2; exit 1; }',
  `trap 'rm -f "$err"' EXIT`,
  `fail() { echo "loadfleet: step $1 failed: $(tr -s '\\n' ' ' < "$err" | sed 's/ *$//')" >&2; exit 1; }`,
  'put() { d=$(dirname "$1");',
  '  mkdir -p "$d" 2>"$err" || fail "write $1";',
  '  t=$(mktemp "$d/.loadfleet.XXXXXX" 2>"$err") || fail "write $1";',
  '  if ! printf %s "$3" | base64 -d > "$t" 2>"$err" || ! chmod "$2" "$t" 2>"$err"; then rm -f "$t"; fail "write $1"; fi;',
  '  if cmp -s "$t" "$1"; then rm -f "$t"; return 1; fi;',
  '  mv -fT "$t" "$1" 2>"$err" || { rm -f "$t"; fail "write $1"; }; echo "changed $1"; return 0; }',
];
