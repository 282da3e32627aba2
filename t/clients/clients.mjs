// Drives the router with the official client libraries, unchanged.
// Usage: node clients.mjs http://127.0.0.1:PORT
// Prints one line per check: "ok - name" or "not ok - name: why".

import { Ollama } from 'ollama';
import OpenAI from 'openai';

const base = process.argv[2];
let failures = 0;

function check(name, cond, why) {
    if (cond) {
        console.log(`ok - ${name}`);
    } else {
        failures++;
        console.log(`not ok - ${name}: ${why}`);
    }
}

async function attempt(name, fn) {
    try {
        await fn();
    } catch (e) {
        failures++;
        console.log(`not ok - ${name}: ${e && e.stack || e}`);
    }
}

const ollama = new Ollama({ host: base });
const openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused' });

await attempt('ollama list', async () => {
    const r = await ollama.list();
    const names = r.models.map((m) => m.name);
    check('ollama list', names.includes('auto')
          && names.includes('gpt-oss:20b') && names.includes('llama3.2:3b'),
          JSON.stringify(names));
});

await attempt('ollama generate', async () => {
    const r = await ollama.generate({ model: 'auto', prompt: 'Hello!' });
    check('ollama generate', r.done === true && r.model === 'llama3.2:3b'
          && r.response.startsWith('tok0'), JSON.stringify(r));
});

await attempt('ollama chat', async () => {
    const r = await ollama.chat({
        model: 'auto',
        messages: [{ role: 'user', content: 'Prove that the sum of two even'
                     + ' numbers is even, step by step, and justify each'
                     + ' step.' }],
    });
    check('ollama chat', r.done === true && r.model === 'gpt-oss:20b'
          && r.message.role === 'assistant', JSON.stringify(r));
});

await attempt('ollama chat stream', async () => {
    const stream = await ollama.chat({
        model: 'auto', stream: true,
        messages: [{ role: 'user', content: 'Hi' }],
    });
    let parts = 0, done = false, text = '';
    for await (const part of stream) {
        parts++;
        text += part.message.content;
        if (part.done) done = true;
    }
    check('ollama chat stream', parts > 2 && done && text.startsWith('tok0'),
          `parts=${parts} done=${done} text=${text}`);
});

await attempt('openai chat', async () => {
    const r = await openai.chat.completions.create({
        model: 'auto',
        messages: [{ role: 'user', content: 'Tell me a joke.' }],
    });
    check('openai chat', r.model === 'llama3.2:3b'
          && r.choices[0].message.content.startsWith('tok0')
          && r.usage.completion_tokens > 0, JSON.stringify(r));
});

await attempt('openai chat stream', async () => {
    const stream = await openai.chat.completions.create({
        model: 'auto', stream: true,
        messages: [{ role: 'user', content: 'Compare Raft and Paxos, justify'
                     + ' a choice and analyze the failure modes.' }],
    });
    let chunks = 0, text = '', model = '', finish = null;
    for await (const chunk of stream) {
        chunks++;
        model = chunk.model;
        if (chunk.choices.length) {
            text += chunk.choices[0].delta.content || '';
            finish = chunk.choices[0].finish_reason || finish;
        }
    }
    check('openai chat stream', chunks > 2 && model === 'gpt-oss:20b'
          && finish === 'stop' && text.startsWith('tok0'),
          `chunks=${chunks} model=${model} finish=${finish}`);
});

await attempt('openai completions', async () => {
    const r = await openai.completions.create({ model: 'auto', prompt: 'Hi' });
    check('openai completions', r.choices[0].text.startsWith('tok0'),
          JSON.stringify(r));
});

await attempt('openai error', async () => {
    let status = 0, message = '';
    try {
        await openai.chat.completions.create({ model: 'gpt-4o',
            messages: [{ role: 'user', content: 'Hi' }] });
    } catch (e) {
        status = e.status;
        message = e.message;
    }
    check('openai error', status === 404 && /model 'gpt-4o' not found/.test(message),
          `status=${status} message=${message}`);
});

process.exit(failures ? 1 : 0);
