import { EngineError } from '../../engine/errors.ts';
import { luaString, type FengariApi, type LuaState } from './fengari-api.ts';
import { kMeteredFunctions } from './library-costs.ts';
import { meterHub } from './meter-hub.ts';

/**
 * Replaces, in a new state's global library tables, the functions whose work grows with their
 * arguments (see kMeteredFunctions) by versions that estimate that work from the arguments'
 * sizes and, before doing it, (1) refuse a result or stack growth the memory budget cannot hold
 * (Lua's "not enough memory", ERR_MEMORY_BUDGET) and (2) charge the estimated CPU time, which
 * refuses a call that cannot finish within the CPU budget (ERR_CPU_BUDGET) and brings the next
 * clock check closer. Run before the prelude, which copies these tables for every invocation, so
 * guests only ever see the metered versions (method calls on strings included).
 * @throws {EngineError} ERR_INTERNAL if a function to wrap is missing (a different fengari).
 */
export function installMeteredLibrary (api: FengariApi, L: LuaState): void {
  for (const [library, functions] of Object.entries(kMeteredFunctions)) {
    api.lua_getglobal(L, luaString(library));
    for (const [name, estimate] of Object.entries(functions)) {
      const key = luaString(name);
      api.lua_getfield(L, -1, key);
      const original = api.lua_tocfunction(L, -1);
      api.lua_settop(L, -2);
      if (original === null) throw new EngineError('ERR_INTERNAL', `lua: ${library}.${name} is not a library function`);
      const what = `${library}.${name}`;
      api.lua_pushjsfunction(L, (L1: LuaState) => {
        const steps = meterHub.steps;
        if (steps !== undefined) {
          const cost = estimate(api, L1);
          if (cost.bytes > 0) meterHub.meter?.reserve(L1, cost.bytes);
          steps.charge(L1, cost.ns, what);
        }
        return original(L1);
      });
      api.lua_setfield(L, -2, key);
    }
    api.lua_settop(L, -2);
  }
}
