import type { InvocationContext } from '../../engine/plugin.ts';
import { LuaFiber } from '../lua-common/lua-fiber.ts';
import type { WasmoonState } from './lua-state.ts';
import { WasmoonAdapter } from './wasmoon-adapter.ts';

/** One invocation of a lua54 function: the shared Lua fiber over wasmoon (see wasmoon-adapter.ts). */
export class WasmoonFiber extends LuaFiber<number> {
  constructor (state: WasmoonState, input: Uint8Array, context: InvocationContext) {
    super((fiber) => new WasmoonAdapter(state, fiber), input, context);
  }
}
