import type { FastifyInstance } from 'fastify';
import { ErrorCode } from '@tandem/protocol';
import { AppError } from '../errors/index.js';
import type { TemplateRegistry } from '../templates/index.js';

/** GET /templates and GET /templates/:id: the template catalogue. */
export function registerTemplateRoutes(app: FastifyInstance, deps: { templates: TemplateRegistry }): void {
  app.get('/templates', async () => ({ templates: deps.templates.list() }));
  app.get('/templates/:id', async (request) => {
    const { id } = request.params as { id: string };
    const template = deps.templates.get(id);
    if (template === undefined)
      throw new AppError(ErrorCode.TEMPLATE_NOT_FOUND, `no template "${id}"; GET /templates lists them`);
    return { template };
  });
}
