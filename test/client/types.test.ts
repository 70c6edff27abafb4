import { describe, expectTypeOf, it } from "vitest";
import type { z } from "zod";
import type { WireEvent } from "../../packages/client/src/types.ts";
import type { eventSchema } from "../../src/ingest/event-input.ts";

describe("the client's event type", () => {
  // Checked by tsc (npm test runs it first): a field the server adds, drops or retypes breaks
  // the build here, not a producer in production.
  it("is the server's event schema, field for field", () => {
    expectTypeOf<WireEvent>().toEqualTypeOf<z.input<typeof eventSchema>>();
  });
});
