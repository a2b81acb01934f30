import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { AppError } from '../errors/index.js';
import { ErrorCode } from '@tandem/protocol';
import type { Faults } from './faults.js';

const FaultPlanBody = z.strictObject({
  crashAfterStore: z
    .strictObject({ kind: z.enum(['edit', 'tree', 'tree-broadcast']), nth: z.number().int().min(1).max(1_000_000) })
    .optional(),
  dropAcks: z
    .strictObject({ forMs: z.number().int().min(0).max(600_000), events: z.array(z.string()).optional() })
    .optional(),
  holdNextEdit: z.literal(true).optional(),
});

/** `POST /__test/faults {plan}`: replaces the fault plan (authenticated like every API route). */
export function registerFaultRoutes(app: FastifyInstance, faults: Faults): void {
  app.post('/__test/faults', async (request) => {
    const parsed = FaultPlanBody.safeParse(request.body);
    if (!parsed.success) throw new AppError(ErrorCode.VALIDATION_FAILED, `invalid fault plan: ${parsed.error.message}`);
    const plan = parsed.data;
    faults.set({
      ...(plan.crashAfterStore === undefined ? {} : { crashAfterStore: plan.crashAfterStore }),
      ...(plan.dropAcks === undefined
        ? {}
        : {
            dropAcks: {
              forMs: plan.dropAcks.forMs,
              ...(plan.dropAcks.events === undefined ? {} : { events: plan.dropAcks.events }),
            },
          }),
      ...(plan.holdNextEdit === undefined ? {} : { holdNextEdit: true }),
    });
    return { ok: true };
  });
  /** `GET /__test/faults`: whether an edit is held now (FaultPlan.holdNextEdit). */
  app.get('/__test/faults', async () => ({ holdingEdit: faults.holdingEdit }));
}
