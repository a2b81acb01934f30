/** Types of the preview compilers that ship none. */

declare module '@babel/standalone' {
  export type TransformResult = { code?: string | null };
  export function transform(code: string, options: Record<string, unknown>): TransformResult;
  const babel: { transform: typeof transform };
  export default babel;
}

declare module 'babel-preset-solid' {
  const preset: (api: unknown, options?: Record<string, unknown>) => unknown;
  export default preset;
}
