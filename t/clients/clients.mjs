// Drives the router with real client libraries, unchanged: ollama,
// @langchain/ollama and openai.  Each call is also checked against what the
// mock tier behind the router received (its /_mock/stats).
// Usage: node clients.mjs http://127.0.0.1:PORT BIG_URL SMALL_URL
// Prints one line per check: "ok - name" or "not ok - name: why".

import { Ollama } from 'ollama';
import { ChatOllama } from '@langchain/ollama';
import OpenAI from 'openai';

const base = process.argv[2];
const tiers = { big: process.argv[3], small: process.argv[4] };
let failures = 0;

// what a mock tier received: its counters, last model and path
async function received(tier) {
    const r = await fetch(`${tiers[tier]}/_mock/stats`);
    return r.json();
}

// runs fn and tells which tier got a request for path, and its model
async function via(path, fn) {
    const before = {};
    for (const t of Object.keys(tiers)) {
        before[t] = (await received(t)).by_path[path] || 0;
    }
    const out = await fn();
    let tier = null, model = null;
    for (const t of Object.keys(tiers)) {
        const s = await received(t);
        if ((s.by_path[path] || 0) > before[t]) {
            tier = tier ? `${tier}+${t}` : t;
            model = s.last_model;
        }
    }
    return { out, tier, model };
}

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
          && names.includes('gpt-oss:20b') && names.includes('llama3.2:3b')
          && names.includes('nomic-embed-text:latest')
          && r.models.every((m) => m.digest.length >= 12 && m.size >= 0),
          JSON.stringify(r.models));
});

await attempt('ollama show', async () => {
    // big's server's own answer: gpt-oss's family and capabilities
    const r = await ollama.show({ model: 'GPT-OSS:20B' });
    check('ollama show', r.details.family === 'gptoss'
          && r.capabilities.includes('thinking'),
          `${JSON.stringify(r.details)} ${JSON.stringify(r.capabilities)}`);
});

await attempt('ollama show auto', async () => {
    const r = await ollama.show({ model: 'auto' });
    check('ollama show auto', /auto/.test(r.modelfile)
          && r.capabilities.includes('completion'), JSON.stringify(r));
});

await attempt('ollama ps', async () => {
    const r = await ollama.ps();
    const names = r.models.map((m) => m.name);
    check('ollama ps', names.includes('gpt-oss:20b')
          && names.includes('llama3.2:3b'), JSON.stringify(names));
});

await attempt('ollama version', async () => {
    const r = await ollama.version();
    const mine = (await received('small')).config.version;
    check('ollama version', r.version === mine, `${r.version} != ${mine}`);
});

await attempt('ollama unload', async () => {
    const { out, tier, model } = await via('/api/generate',
        () => ollama.generate({ model: 'llama3.2:3b', prompt: '',
                                keep_alive: 0 }));
    const s = await received('small');
    check('ollama unload', out.done_reason === 'unload' && tier === 'small'
          && model === 'llama3.2:3b' && !s.loaded.includes('llama3.2:3b'),
          `tier=${tier} ${JSON.stringify(out)} loaded=${s.loaded}`);
});

await attempt('ollama load', async () => {
    const { out, tier } = await via('/api/generate',
        () => ollama.generate({ model: 'llama3.2:3b', prompt: '' }));
    const s = await received('small');
    check('ollama load', out.done_reason === 'load' && tier === 'small'
          && s.loaded.includes('llama3.2:3b'),
          `tier=${tier} ${JSON.stringify(out)} loaded=${s.loaded}`);
});

await attempt('ollama generate stream think', async () => {
    const { out, tier, model } = await via('/api/generate', async () => {
        const stream = await ollama.generate({ model: 'gpt-oss:20b',
            prompt: 'Why is the sky blue?', stream: true, think: 'low' });
        let thinking = '', text = '', done = false;
        for await (const part of stream) {
            thinking += part.thinking || '';
            text += part.response;
            done = done || part.done;
        }
        return { thinking, text, done };
    });
    check('ollama generate stream think', tier === 'big'
          && model === 'gpt-oss:20b' && out.thinking.length > 0
          && out.text.startsWith('tok0') && out.done,
          `tier=${tier} ${JSON.stringify(out)}`);
});

await attempt('ollama chat stream tools', async () => {
    const { out, tier } = await via('/api/chat', async () => {
        const stream = await ollama.chat({
            model: 'auto', stream: true, think: true,
            messages: [{ role: 'user', content: 'Analyze the weather in'
                         + ' Paris and Lyon, compare them step by step and'
                         + ' justify which city is warmer.' }],
            tools: [{ type: 'function', function: {
                name: 'get_weather', description: 'the weather in a city',
                parameters: { type: 'object', required: ['city'],
                              properties: { city: { type: 'string' } } } } }],
        });
        const calls = [];
        let thinking = '';
        for await (const part of stream) {
            thinking += part.message.thinking || '';
            calls.push(...(part.message.tool_calls || []));
        }
        return { calls, thinking };
    });
    check('ollama chat stream tools', tier === 'big'
          && out.calls.length > 0
          && out.calls[0].function.name === 'get_weather'
          && out.thinking.length > 0, `tier=${tier} ${JSON.stringify(out)}`);
});

await attempt('ollama embed', async () => {
    const { out, tier, model } = await via('/api/embed',
        () => ollama.embed({ model: 'nomic-embed-text', input: ['a', 'b'] }));
    check('ollama embed', tier === 'big' && model === 'nomic-embed-text'
          && out.embeddings.length === 2 && out.embeddings[0].length > 0,
          `tier=${tier} ${JSON.stringify(out)}`);
});

await attempt('langchain chat', async () => {
    const llm = new ChatOllama({ baseUrl: base, model: 'auto' });
    const { out, tier, model } = await via('/api/chat',
        () => llm.invoke([['human', 'Hello there!']]));
    check('langchain chat', tier === 'small' && model === 'llama3.2:3b'
          && String(out.content).startsWith('tok0'),
          `tier=${tier} model=${model} ${JSON.stringify(out.content)}`);
});

await attempt('langchain chat stream', async () => {
    const llm = new ChatOllama({ baseUrl: base, model: 'auto' });
    const { out, tier } = await via('/api/chat', async () => {
        let text = '', chunks = 0;
        for await (const chunk of await llm.stream([['human',
            'Prove that the square root of 2 is irrational, step by step,'
            + ' and justify every step rigorously.']])) {
            chunks++;
            text += chunk.content;
        }
        return { text, chunks };
    });
    check('langchain chat stream', tier === 'big' && out.chunks > 2
          && out.text.startsWith('tok0'), `tier=${tier} ${JSON.stringify(out)}`);
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

await attempt('openai models', async () => {
    const ids = [];
    for await (const m of openai.models.list()) {
        ids.push(m.id);
    }
    check('openai models', ids.includes('auto') && ids.includes('gpt-oss:20b')
          && ids.includes('llama3.2:3b'), JSON.stringify(ids));
});

await attempt('openai embeddings', async () => {
    const { out, tier, model } = await via('/v1/embeddings',
        () => openai.embeddings.create({ model: 'nomic-embed-text',
                                         input: 'hello' }));
    check('openai embeddings', tier === 'big' && model === 'nomic-embed-text'
          && out.data[0].embedding.length > 0, `tier=${tier}`);
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
