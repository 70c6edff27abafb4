import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { EmulatorContext } from "../context.ts";
import { type EndpointGroup, endpointGroupSchema } from "../endpoint-faults.ts";
import { invalidRequest } from "../errors.ts";
import type { Faults } from "../faults.ts";
import type { Ledger } from "../ledger.ts";

const keyBody = z.object({ key: z.string().min(1) }).strict();

/** Turn a zod failure into a 400 naming the field and the rule. */
export function badRequest(error: z.ZodError): Error {
  const issue = error.issues[0];
  const param = issue?.path.join(".") || undefined;
  const message = issue ? `${param ?? "body"}: ${issue.message}` : "Invalid body";
  return invalidRequest(message, param ? { param } : {});
}

/** The `:group` route parameter, or a 400 listing the groups. */
function groupOf(params: unknown): EndpointGroup {
  const parsed = z.object({ group: endpointGroupSchema }).safeParse(params);
  if (!parsed.success) throw badRequest(parsed.error);
  return parsed.data.group;
}

/**
 * Admin routes under /_emulator/: no Stripe key needed, JSON in and out. They let tests and
 * demos read the ledger, change faults and revoke keys while the emulator runs.
 */
export function registerAdminRoutes(app: FastifyInstance, ctx: EmulatorContext): void {
  app.get("/_emulator/ledger", async (): Promise<Ledger> => ctx.store.ledger.snapshot());

  app.get("/_emulator/faults", async (): Promise<Faults> => ctx.faults());

  app.post("/_emulator/faults", async (req): Promise<Faults> => {
    try {
      return ctx.setFaults(req.body ?? {});
    } catch (error) {
      if (error instanceof z.ZodError) throw badRequest(error);
      throw error;
    }
  });

  app.get("/_emulator/faults/endpoints", async () => ctx.endpointFaults.describe());

  app.get(
    "/_emulator/faults/:group",
    async (req): Promise<Faults> => ctx.endpointFaults.effective(groupOf(req.params)),
  );

  app.post("/_emulator/faults/:group", async (req): Promise<Faults> => {
    const group = groupOf(req.params);
    try {
      return ctx.endpointFaults.setGroup(group, req.body ?? {});
    } catch (error) {
      if (error instanceof z.ZodError) throw badRequest(error);
      throw error;
    }
  });

  app.delete(
    "/_emulator/faults/:group",
    async (req): Promise<Faults> => ctx.endpointFaults.clearGroup(groupOf(req.params)),
  );

  app.post("/_emulator/keys/revoke", async (req): Promise<{ key: string; revoked: boolean }> => {
    const parsed = keyBody.safeParse(req.body);
    if (!parsed.success) throw badRequest(parsed.error);
    ctx.keys.revoke(parsed.data.key);
    return { key: parsed.data.key, revoked: true };
  });

  app.post("/_emulator/keys/restore", async (req): Promise<{ key: string; revoked: boolean }> => {
    const parsed = keyBody.safeParse(req.body);
    if (!parsed.success) throw badRequest(parsed.error);
    ctx.keys.restore(parsed.data.key);
    return { key: parsed.data.key, revoked: false };
  });
}
