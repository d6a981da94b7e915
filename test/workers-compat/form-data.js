/* global FormData, File, Blob, Request, Response -- the Workers globals springbok and workerd both have */
// FormData and File: entries, get/getAll/has/set/delete, a Blob turned into a File, a FormData as a
// multipart body (the random boundary is replaced by "BOUNDARY" so both runtimes' bytes compare),
// formData() of that body and of a urlencoded one.
export default {
  async fetch () {
    const lines = [];
    const file = new File(['file ', 'bytes'], 'notes.txt', { type: 'Text/Plain', lastModified: 1700000000000 });
    lines.push(`file ${file.name} ${file.type} ${file.size} ${file.lastModified} ${file instanceof Blob} ${await file.text()}`);
    const form = new FormData();
    form.append('name', 'caf\u00e9');
    form.append('name', 'second');
    form.append('upload', file);
    form.append('blob', new Blob(['raw'], { type: 'application/x-raw' }));
    form.append('renamed', file, 'other.txt');
    form.set('single', 'one');
    lines.push(`get ${form.get('name')} getAll ${form.getAll('name').join('|')} has ${form.has('upload')} ${form.has('missing')} get missing ${form.get('missing')}`);
    const blob = form.get('blob');
    lines.push(`blob entry ${blob instanceof File} ${blob.name} ${blob.type} renamed ${form.get('renamed').name}`);
    form.delete('single');
    lines.push(`keys ${[...form.keys()].join(',')}`);
    const response = new Response(form);
    const contentType = response.headers.get('content-type');
    const boundary = contentType.slice(contentType.indexOf('boundary=') + 'boundary='.length);
    lines.push(`content-type ${contentType.replace(boundary, 'BOUNDARY')}`);
    const raw = await response.clone().text();
    lines.push(`multipart ${JSON.stringify(raw.split(boundary).join('BOUNDARY'))}`);
    const breaks = new FormData();
    breaks.append('line\nname "q"', 'a\nb\rc\r\nd');
    const breaksResponse = new Response(breaks), breaksType = breaksResponse.headers.get('content-type');
    const breaksBoundary = breaksType.slice(breaksType.indexOf('boundary=') + 'boundary='.length);
    lines.push(`line breaks ${JSON.stringify((await breaksResponse.text()).split(breaksBoundary).join('BOUNDARY'))}`);
    const parsed = await response.formData();
    lines.push(`parsed ${[...parsed].map(([key, value]) => typeof value === 'string' ? `${key}=${value}` : `${key}=File(${value.name},${value.type},${value.size})`).join(' ')}`);
    const request = new Request('https://example.com/form', { method: 'POST', body: 'a=1&b=two+words&c=%E2%9C%93', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    lines.push(`urlencoded ${JSON.stringify([...await request.formData()])}`);
    const handMade = '--xyz\r\nContent-Disposition: form-data; name="field"\r\n\r\nvalue one\r\n--xyz\r\nContent-Disposition: form-data; name="doc"; filename="a.bin"\r\nContent-Type: application/octet-stream\r\n\r\n\u0001\u0002\r\n--xyz--\r\n';
    const handForm = await new Response(handMade, { headers: { 'content-type': 'multipart/form-data; boundary="xyz"' } }).formData();
    const doc = handForm.get('doc');
    lines.push(`hand-made ${handForm.get('field')} ${doc.name} ${doc.type} ${[...new Uint8Array(await doc.arrayBuffer())].join(',')}`);
    try {
      await new Response('plain').formData();
      lines.push('plain text accepted');
    } catch (error) {
      lines.push(`plain text ${error.name}`);
    }
    return new Response(lines.join('\n') + '\n');
  },
};
