/** The engine's public surface. Plugins import the contract from here; the engine imports no plugin. */
export { Engine } from './engine.ts';
export type { DeployOptions, EngineHealth, EngineStats, FunctionInfo, InvokeOptions, ThreadHealth, ThreadStats } from './engine-types.ts';
export type { InvokeResult } from './invocation.ts';
export type { EngineOptions } from './options.ts';
export { kDefaultOptions } from './options.ts';
export { kDefaultBudget, resolveBudget, type Budget, type Usage } from './budget.ts';
export { EngineError, isErrorCode, toErrorRecord, BUDGET_ERROR_CODES, FUNCTION_ERROR_CODES, REQUEST_ERROR_CODES, type ErrorCode, type ErrorRecord } from './errors.ts';
export { kYield, type Artifact, type CompileOptions, type Fiber, type InvocationContext, type LanguagePlugin, type MemoryRule, type PluginContext, type Sandbox, type Slice, type SliceOutcome } from './plugin.ts';
export type { FunctionStats } from './function-stats.ts';
