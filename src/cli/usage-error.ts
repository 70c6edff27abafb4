import { type ParseArgsConfig, parseArgs } from "node:util";
import type { z } from "zod";

/** A mistake in how a command was called: printed without a stack, exit code 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * Parses a command's flags with node:util, then validates them with a zod schema, so that a bad
 * value stops the command with the flag's name and the rule. Returns null after printing --help.
 */
export function parseFlags<S extends z.ZodType>(
  args: string[],
  options: Options,
  schema: S,
  helpText: string,
): { flags: z.infer<S>; positionals: string[] } | null {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args,
      options: { ...options, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${helpText}`);
  }
  if (parsed.values.help) {
    process.stdout.write(`${helpText}\n`);
    return null;
  }
  const { help: _help, ...values } = parsed.values;
  const result = schema.safeParse(values);
  if (!result.success) {
    const problems = result.error.issues.map(
      (i) => `--${String(i.path[0] ?? "?")}: ${flagRule(i)}`,
    );
    throw new UsageError(`${problems.join("\n")}\n\n${helpText}`);
  }
  return { flags: result.data, positionals: parsed.positionals };
}

/** A flag's broken rule in words: a required flag left out says so, not zod's type message. */
function flagRule(issue: z.core.$ZodIssue): string {
  if (issue.code === "invalid_type" && /received undefined$/.test(issue.message))
    return "is required";
  return issue.message;
}
