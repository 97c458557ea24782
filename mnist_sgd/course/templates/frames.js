// The site's only script: each figure of precomputed frames shows the frame its slider points at (and a checkbox, where
// there is one, switches to a second set of frames). Frames and captions come from the JSON inside the figure.
document.querySelectorAll('figure.mnist-sgd-frames').forEach(fig => {
  const pools = Object.values(JSON.parse(fig.querySelector('.mnist-sgd-frames-data').textContent));
  const range = fig.querySelector('input[type=range]'), box = fig.querySelector('input[type=checkbox]');
  const img = fig.querySelector('img'), out = fig.querySelector('output'), caption = fig.querySelector('.mnist-sgd-frames-caption');
  let frames = pools[0];
  const show = () => {
    const f = frames[Math.min(Number(range.value), frames.length - 1)];
    img.src = f.src; out.textContent = f.label; caption.innerHTML = f.caption;
  };
  range.addEventListener('input', show);
  if (box) box.addEventListener('change', () => {
    frames = pools[box.checked && pools.length > 1 ? 1 : 0];
    range.max = frames.length - 1; range.value = 0; show();
  });
});
// The sidebar starts open; on a narrow screen it folds away so that the lesson comes first.
if (window.matchMedia('(max-width: 60em)').matches)
  document.querySelectorAll('details.mnist-sgd-fold').forEach(d => { d.open = false; });
