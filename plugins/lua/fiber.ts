import type { InvocationContext } from '../../engine/plugin.ts';
import { LuaFiber } from '../lua-common/lua-fiber.ts';
import { FengariAdapter } from './fengari-adapter.ts';
import type { LuaState } from './fengari-api.ts';
import type { FengariState } from './lua-state.ts';

/** One invocation of a fengari function: the shared Lua fiber over fengari (see fengari-adapter.ts). */
export class FengariFiber extends LuaFiber<LuaState> {
  constructor (state: FengariState, input: Uint8Array, context: InvocationContext) {
    super((fiber) => new FengariAdapter(state, fiber), input, context);
  }
}
