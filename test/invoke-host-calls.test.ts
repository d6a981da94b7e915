import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Engine } from '../engine/index.ts';
import { luaPlugin } from '../plugins/lua/index.ts';
import { lua54Plugin } from '../plugins/lua54/index.ts';

// The Lua engines' one asynchronous host-call path (lua-common/host-call-bridge.ts), which carries
// ctx.invoke, ctx.kv and ctx.fetch alike, hands long lists back as one string: pushed a value per
// item, a fetch answer with 100 headers overflowed the coroutine's stack (lua54 then trapped,
// "memory access out of bounds").

test('a fetch answer with the most headers a Lua function gets, and a long kv list, come back whole on both Lua engines', async () => {
  const server = createServer((request, response) => {
    for (let i = 0; i < 120; i++) response.setHeader(`x-header-${i}`, `value ${i}: ${'v'.repeat(20)}`);
    response.end('ok');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  try {
    for (const plugin of [luaPlugin(), lua54Plugin()]) {
      await using engine = await Engine.open({ plugins: [plugin], netAllowPrivate: ['127.0.0.1'] });
      await engine.deploy('headers', plugin.language, Buffer.from(`return function (_, ctx)
        local seen = 0
        for _ = 1, 5 do
          local response = ctx.fetch('http://127.0.0.1:${port}/')
          for name, value in pairs(response.headers) do
            if name:match('^x%-header%-') and value:match('^value %d+: v+$') then seen = seen + 1 end
          end
        end
        for i = 1, 300 do ctx.kv.put(string.format('key:%03d', i), 'x') end
        local keys = ctx.kv.list('key:')
        return seen .. ' ' .. #keys .. ' ' .. keys[1] .. ' ' .. keys[300]
      end`), { allowHosts: [`127.0.0.1:${port}`] });
      const result = await engine.invoke('headers', new Uint8Array());
      assert.equal(result.ok ? Buffer.from(result.output).toString() : `${result.error.code}: ${result.error.message}`, '500 300 key:001 key:300', plugin.language);
    }
  } finally {
    server.close();
  }
});
