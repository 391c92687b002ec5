// Drives a kpcap report's timeline like a person: keyboard and mouse zoom
// and pan, a click on a slice. Usage: node interact.mjs report.html FUNC
// Prints one line per check; exits 1 on the first failure.
import { chromium } from 'playwright-core';

const [html, func] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const errors = [];
let failed = false;
function check(ok, what) {
  console.log((ok ? 'ok   ' : 'FAIL ') + what);
  if (!ok) failed = true;
}
try {
  const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto('file://' + html);
  const cv = page.locator('#tl-canvas');
  await cv.scrollIntoViewIfNeeded();
  const view = async () => (await cv.getAttribute('data-view')).split(',').map(Number);
  const [a0, a1] = await view();

  await cv.focus();
  await page.keyboard.press('+');
  let [b0, b1] = await view();
  check(Math.abs((b1 - b0) - (a1 - a0) / 2) <= 2, `'+' halves the view: ${a0},${a1} -> ${b0},${b1}`);
  await page.keyboard.press('d');
  let [c0, c1] = await view();
  check(c0 > b0 && Math.abs((c1 - c0) - (b1 - b0)) <= 2, `'d' pans right: ${b0} -> ${c0}`);
  await page.keyboard.press('ArrowLeft');
  let [d0] = await view();
  check(d0 < c0, `ArrowLeft pans left: ${c0} -> ${d0}`);
  await page.keyboard.press('s');
  await page.keyboard.press('0');
  let [e0, e1] = await view();
  check(e0 === a0 && e1 === a1, `'0' resets: ${e0},${e1}`);

  const box = await cv.boundingBox();
  await page.mouse.move(box.x + box.width * 0.6, box.y + 40);
  await page.mouse.wheel(0, -200);
  let [f0, f1] = await view();
  check(f1 - f0 < e1 - e0 && f0 > e0, `wheel zooms in around the pointer: ${f0},${f1}`);
  await page.mouse.move(box.x + 600, box.y + 40);
  await page.mouse.down();
  await page.mouse.move(box.x + 500, box.y + 40, { steps: 5 });
  await page.mouse.up();
  let [g0, g1] = await view();
  check(g0 > f0 && Math.abs((g1 - g0) - (f1 - f0)) <= 2, `dragging left pans right: ${f0} -> ${g0}`);

  // The longest pair's link centres it; a click there shows its fields.
  const link = page.locator('a.tl-outlier').first();
  await link.click();
  const detail = page.locator('#tl-detail');
  check((await detail.textContent()).includes(func), 'outlier link selects a slice of ' + func);
  await page.keyboard.press('0');
  await link.click(); // the same link again still shows it
  const [h0, h1] = await view();
  check(h1 - h0 < a1 - a0, `clicking the link again zooms to it: ${h0},${h1}`);
  await page.evaluate(() => { document.getElementById('tl-detail').textContent = ''; });
  const b2 = await cv.boundingBox();
  // The slice spans the middle ninth of the view: try each lane row there.
  let hit = '';
  for (let y = 24; y < b2.height && !hit.includes('Duration'); y += 3) {
    await page.mouse.click(b2.x + 180 + (b2.width - 180) * 0.48, b2.y + y);
    hit = await detail.textContent();
  }
  check(hit.includes('Duration') && hit.includes(func), 'clicking the slice shows its fields: ' + hit.slice(0, 120));
  check(errors.length === 0, 'no console errors ' + errors.join('; '));
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
