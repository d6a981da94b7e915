/**
 * What the patched fengari modules call while an invocation runs (see fengari-loader.ts). Only
 * one fiber runs at a time on the engine's thread, so one slot is enough: a fiber points it at
 * its sandbox's meter when run() starts and clears it when run() returns.
 */
export interface MeterHub {
  /** Charges strings, buffers and table slots; undefined while no Lua invocation is running. */
  meter: StringAndSlotMeter | undefined;
  /** Counts pattern-matching steps; undefined while no Lua invocation is running. */
  steps: StepCounter | undefined;
}

export interface StringAndSlotMeter {
  /** A string of `bytes` bytes was just made. May throw a Lua memory error. */
  chargeString (L: unknown, bytes: number): void;
  /** A buffer of `bytes` bytes is about to be allocated. May throw a Lua memory error. */
  reserve (L: unknown, bytes: number): void;
  /** A table got a new slot. */
  chargeSlot (): void;
}

export interface StepCounter {
  /** Steps left before {@link StepCounter.onExhausted} is called. */
  left: number;
  /** Checks the clock; refills `left`, or throws a Lua error that ends the invocation. */
  onExhausted (L: unknown): void;
}

export const meterHub: MeterHub = { meter: undefined, steps: undefined };
