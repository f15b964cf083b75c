/**
 * Terraform reads every string of its JSON configuration as a template: `${…}` is evaluated (functions
 * included: `${file("/proc/self/environ")}` would read the machine's secrets into tags, state and plan) and
 * `%{…}` is a directive. A user's string must reach Terraform as itself: `$${` and `%%{` are Terraform's
 * escapes for a literal `${` and `%{` (hashicorp/hcl v2 hclsyntax/spec.md, "Template Literals").
 * Every string from the config file or the user's files goes through here before it enters the stack.
 */
export function tfLiteral(value: string): string {
  // Replacer functions: in a replacement string "$$" itself means one "$".
  return value.replace(/\$\{/g, () => '$${').replace(/%\{/g, () => '%%{');
}

/** tfLiteral on every key and value. */
export function tfLiteralRecord(values: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [tfLiteral(k), tfLiteral(v)]));
}
