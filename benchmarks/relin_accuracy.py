#!/usr/bin/env python3
"""Re-linearization against the real runs of benchmarks/accuracy.sh (issue 12).

Reads the validate JSON that accuracy.sh wrote (out/accuracy/<task>-*.json:
real training times and the one-linearization predictions, "off"), runs
`ttpredict predict --relinearize MODE` with the same settings (kron D' = 1024,
as validate) for every case, and prints per case and in total: unwarned GD
within 13 %, unwarned SGD within 20 %, share warned, and the cost (kernels,
seconds) against one linearization.

  python3 benchmarks/relin_accuracy.py [--mode auto] [--np 2] TASK...
  (run `TASKS=bundled STABS="0.3 1.2" BATCH=64 bash benchmarks/accuracy.sh` first)
"""
import argparse, glob, json, os, subprocess, sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ap = argparse.ArgumentParser()
ap.add_argument('--mode', default='auto')
ap.add_argument('--np', default='2')
ap.add_argument('--build', default=os.path.join(root, 'build'))
ap.add_argument('--lrs', default='', help='only these learning-rate indices in each file (e.g. 0)')
ap.add_argument('tasks', nargs='+')
a = ap.parse_args()
out = os.path.join(root, 'out', 'accuracy')
files = {'bundled': (os.path.join(root, 'data/default-model.nc'), os.path.join(root, 'data/default-data.nc')),
         'split': (os.path.join(out, 'split/model-04.nc'), os.path.join(out, 'split/finetune-04.nc'))}
tot = dict(off=dict(gd=[0, 0], sgd=[0, 0], warned=0, n=0), on=dict(gd=[0, 0], sgd=[0, 0], warned=0, n=0))
cost = []
print('case                         | real            | off (valid)          | %s (valid, kernels, trials, s)' % a.mode)
for task in a.tasks:
    model, data = files[task]
    for path in sorted(glob.glob(os.path.join(out, task + '-*-m*.json'))):
        v = json.load(open(path))
        steps = v['steps']
        tts = ','.join('%s:%g' % (d['kind'], d['threshold']) for d in v['definitions'])
        lrs = sorted({c['lr'] for c in v['cases']})
        for c in v['cases']:
            if a.lrs and str(lrs.index(c['lr'])) not in a.lrs.split(','):
                continue
            tag = '%s-%s-%s-m%g-lr%g' % (task, c['optimizer'], c['loss'], c['momentum'], c['lr'])
            js = os.path.join(out, 'relin-%s-%s.json' % (a.mode, tag))
            cmd = ['mpirun', '-np', a.np, os.path.join(a.build, 'ttpredict'), 'predict', '-q', '--model', model,
                   '--data', data, '--loss', c['loss'], '--lr', repr(c['lr']), '--momentum', repr(c['momentum']),
                   '--steps', str(steps), '--tt', tts, '--proj', 'kron', '--dproj', '1024', '--time-steps', '0',
                   '--relinearize', a.mode, '--json', js]
            if c['optimizer'] == 'SGD':
                cmd += ['--batch', str(c['batch'])]
            if not os.path.exists(js):
                r = subprocess.run(cmd, capture_output=True, text=True)
                if r.returncode != 0:
                    print(tag, 'FAILED', r.stderr[-400:]); continue
            p = json.load(open(js))
            f = p['faithfulness']
            real = [t['real'] for t in c['times']]
            off = [t['predicted'] for t in c['times']]
            on = [t['steps'] for t in p['training_times']]
            tol = 0.20 if c['optimizer'] == 'SGD' else 0.13
            key = 'sgd' if c['optimizer'] == 'SGD' else 'gd'
            for name, pred, valid in (('off', off, c['valid']), ('on', on, p['valid'])):
                T = tot[name]; T['n'] += 1; T['warned'] += not valid
                if valid:
                    for pr, re_ in zip(pred, real):
                        if re_ is None or re_ < 0: continue
                        T[key][0] += pr is not None and pr >= 0 and abs(pr - re_) <= tol * re_
                        T[key][1] += 1
            sec = f.get('relinearize_seconds', 0)
            cost.append((f.get('segments', 1), sec, c['seconds_kernel'] + c['seconds_predict']))
            print('%-28s | %-15s | %-14s (%d) | %-14s (%d, %d, %d, %.0f s)' % (
                tag, '/'.join(map(str, real)), '/'.join(map(str, off)), c['valid'], '/'.join(map(str, on)),
                p['valid'], f.get('segments', 1), f.get('relinearize_trials', 0), sec))
            sys.stdout.flush()
def pct(x): return '%d/%d (%s)' % (x[0], x[1], '%.0f%%' % (100.0 * x[0] / x[1]) if x[1] else '-')
for name in ('off', 'on'):
    T = tot[name]
    print('%-4s unwarned GD within 13%%: %s  SGD within 20%%: %s  warned %s' % (
        name if name == 'off' else a.mode, pct(T['gd']), pct(T['sgd']), pct([T['warned'], T['n']])))
if cost:
    cost.sort()
    ks = sorted(k for k, _, _ in cost); ss = sorted(s for _, s, _ in cost)
    print('kernels per prediction: median %d (max %d); re-linearization seconds: median %.0f (max %.0f); '
          'one linearization (kernel + predict) median %.1f s' % (ks[len(ks) // 2], ks[-1], ss[len(ss) // 2],
                                                                  ss[-1], sorted(o for _, _, o in cost)[len(cost) // 2]))
