// The digits demo's distillation (kdkit demo: CNN teacher, MLP [128] student, 0.9 · kd at T = 4 +
// 0.1 · ce, 100 epochs, batch 32) run by kdkit/browser in headless Chromium on the wasm and webgl
// backends, beside the same run in Node: test accuracy and the student's wall time. The teacher
// trains once, in Node; its logits teach every student. WebGL here is SwiftShader (the CPU
// emulating a GPU): its times say what the device path costs without a GPU, not what a GPU gives.
// Run: npm run build && node bench/browser-distill.js [backends, default wasm,webgl] [student epochs]
import { launchChromium } from '../dist/browser_page.test.util.js';
import { demoSetup, digitsWithTeacher, distilInNode, distilInPages } from '../dist/browser_distill.test.util.js';

const backends = (process.argv[2] ?? 'wasm,webgl').split(',');
const epochs = Number(process.argv[3] ?? demoSetup.student.epochs);
const setup = { ...demoSetup, student: { ...demoSetup.student, epochs } };

const data = await digitsWithTeacher(setup);
console.log(
  `teacher (${JSON.stringify(setup.teacher.model)}, ${setup.teacher.epochs} epochs): ${(data.teacherAccuracy * 100).toFixed(2)} % on test`,
);
const node = await distilInNode(setup, data);
const browser = await launchChromium();
const chromiumVersion = browser.version();
let pages;
try {
  pages = await distilInPages(browser, setup, data, backends);
} finally {
  await browser.close();
}
console.log(
  `student ${JSON.stringify(setup.student.model)}, ${epochs} epochs × batch ${setup.student.batchSize}, Chromium ${chromiumVersion}\n`,
);
console.log(`${'where'.padEnd(16)} ${'test acc'.padStart(9)} ${'distill() s'.padStart(12)} ${'÷ Node'.padStart(8)}`);
for (const outcome of [node, ...pages]) {
  const where = outcome.where === 'node' ? 'Node (wasm)' : `page (${outcome.where})`;
  console.log(
    `${where.padEnd(16)} ${`${(outcome.accuracy * 100).toFixed(2)} %`.padStart(9)} ${outcome.seconds.toFixed(2).padStart(12)} ${(outcome.seconds / node.seconds).toFixed(2).padStart(8)}`,
  );
}
