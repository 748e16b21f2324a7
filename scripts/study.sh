#!/usr/bin/env bash
# The sign-stability and transfer study (README, "The reference's open questions"), one step
# after another. Every step resumes where it stopped, so the script can be run again after
# an interruption; finished steps do nothing. Each run uses one thread per process; run two
# copies of a step list side by side on a 2-core machine, or set OMP_NUM_THREADS=2 for one.
#
#   scripts/study.sh trunk      MNIST IMP, 5 seeds, per-round data order (the trunk)
#   scripts/study.sh fixed      the same with the fixed data order (the ablation)
#   scripts/study.sh transfer   branch: FashionMNIST, CIFAR-10, MaxGroup x Adam and high-lr
#                               SGD, ticket vs reinit / signed_reinit / signed_constant,
#                               every fourth round (0, 4, ..., 20)
#   scripts/study.sh transfer-fill   the same at rounds 2, 6, ..., 18 (with it: every second)
#   scripts/study.sh signs      branch: signed_reinit and signed_constant on MNIST at the odd
#                               rounds (the transfer branches train them at the even ones)
#   scripts/study.sh magnitudes branch: the reshuffle control (the ticket's own kept
#                               magnitudes and signs, permuted) on the three transfer
#                               datasets with high-lr SGD, every fourth round: do the
#                               magnitudes carry what the signs alone do not?
#   scripts/study.sh fc         the frankle-carbin preset, 3 seeds
#   scripts/study.sh records    reports and exports of every finished run into results/
#   scripts/study.sh record:RUN one run's records (record:sources adds the criteria report);
#                               record:RUN-rerun (-rerun2, ...), those of runs/RUN re-made on
#                               another machine (same trunk records), beside the first run's: a
#                               run lacking branches its committed records hold is refused
#   scripts/study.sh progress   snapshots of unfinished runs into results/progress/ (the
#                               width test's rows, unfinished branches' journals)
#   scripts/study.sh restore    those snapshots back into a runs/ that lacks them
#
# The follow-up study (the deciding experiments), every run from a committed tree:
#   scripts/study.sh trunk2         the MNIST trunk again, on the current code
#   scripts/study.sh fmnist-trunk2  the same on FashionMNIST (same seeds and initial weights)
#   scripts/study.sh fixed2         the MNIST trunk with the fixed data order (a baseline of
#                                   mask overlap: same init and data, another order)
#   scripts/study.sh supermasks     one-shot supermasks by criterion on the MNIST trunk
#   scripts/study.sh length         branches of the MNIST trunk: FashionMNIST and CIFAR-10 x
#                                   Adam and SGD lr 1e-2 x 3 and 40 epochs (the pilot's
#                                   choice), ticket vs reinit, signed_reinit, reshuffle
#   scripts/study.sh scale          branches: the three transfer datasets x SGD lr 1e-2 at 3
#                                   and 40 epochs, ticket vs reinit, scaled_reinit,
#                                   reshuffle, signed_reshuffle, signed_constant (after
#                                   `length`: what its branches trained is not trained again)
#   scripts/study.sh criteria       the sources preset's IMP alone with Zhou et al.'s other
#                                   criteria (magnitude_increase, large_final_same_sign),
#                                   same seeds, checks and schedule: paired with the sources
#                                   run's large_final IMP by `ticketlab report A B`
#   scripts/study.sh precision      the trunk's config in fp32 and in bf16, one commit:
#                                   scripts/precision_effect.py reads the two exports
#   scripts/study.sh sources        the sources preset: IMP against every mask source
#                                   (pruning at init, early-bird and PrAC IMP), with checks
#   scripts/study.sh learned        edge-popup and biprop masks at the sources preset's IMP
#                                   levels (10% among them), 3 seeds, against IMP
#   scripts/study.sh learned-transfer  branch: the learned run's tickets (IMP's, edge-popup's,
#                                   biprop's, with their checks) on FashionMNIST at the odd
#                                   levels 1-9 (63% to 1.6%); step 0 is the mask frozen
#   scripts/study.sh supermasks-learned  edge-popup and biprop at keep 0.5/0.3/0.1 and the
#                                   Bernoulli supermask on the MNIST trunk's frozen starts
#                                   (Bernoulli again at Zhou et al.'s lr 100)
#   scripts/study.sh sources-conv   LeNet-5 at the quick-conv scale: IMP, SNIP, SynFlow,
#                                   random, early-bird (its 4 epochs allow a window of 2
#                                   only: the rule's default 5 could never fire) and
#                                   edge-popup
#   scripts/study.sh width          the strong-ticket width test, the issue's 20 epochs
#                                   (the pilot's verdict): widths 1-8, twice the depth to 4,
#                                   Kaiming normal; its first cells were the pilot's
#   scripts/study.sh width-pilot    the pilot's short arm: 5 epochs at widths 1 and 2 (and
#                                   twice the depth at 1). Fixed before running: 5 epochs
#                                   stand if every edge-popup and biprop cell (mean of 3
#                                   seeds) gains less than 1 pp from 5 to 20 epochs
#                                   (scripts/width_pilot.py runs/width-5ep runs/width says)
#   scripts/study.sh width-full     the rest of the issue's plan into runs/width: width 16,
#                                   twice the depth at 8, signed constant (on a GPU)
#   scripts/study.sh width-conv     the width test on Conv-2 (CIFAR-10, quick-conv's data
#                                   and setting without augmentation), widths 1-8: a GPU's
#                                   work (docs/guide/width.md says what it takes)
#   scripts/study.sh specific       branches of both trunks: each one's tickets trained on
#                                   both datasets, Adam and SGD, against re-init, every
#                                   fourth round
set -euo pipefail
cd "$(dirname "$0")/.."
export TICKETLAB_DATA="${TICKETLAB_DATA:-$(cd .. && pwd)/shared/data}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
tl=.venv/bin/ticketlab
seeds=(--seeds 0 1 2 3 4)
adam="{optimizer: adam, lr: 0.0012, batch_size: 128, epochs: 10, eval_every: 215}"
sgd="{optimizer: sgd, lr: 0.01, batch_size: 128, epochs: 3, eval_every: 215}"

for step in "$@"; do
  case "$step" in
    trunk)
      $tl run --preset seed "${seeds[@]}" --set "transfer.datasets=[]" \
        --out runs/study-trunk --quiet ;;
    fixed)
      $tl run --preset seed "${seeds[@]}" --set "transfer.datasets=[]" \
        --set experiment.data_order=fixed --out runs/study-fixed --quiet ;;
    transfer|transfer-fill)
      # Every fourth round first (6 levels), then the rounds between (every second round).
      rounds=0-20:4; [ "$step" = transfer ] || rounds=2-18:4
      $tl branch runs/study-trunk --name "$step" --rounds "$rounds" \
        --set "transfer.datasets=[fashion_mnist, cifar10, maxgroup]" \
        --set "transfer.settings=[$adam, $sgd]" \
        --set "experiment.controls=[reinit, signed_reinit, signed_constant]" --quiet ;;
    magnitudes)
      $tl branch runs/study-trunk --name magnitudes --rounds 0-20:4 \
        --set "transfer.datasets=[fashion_mnist, cifar10, maxgroup]" \
        --set "transfer.settings=[$sgd]" \
        --set "experiment.controls=[reinit, reshuffle]" --quiet ;;
    signs)
      $tl branch runs/study-trunk --name signs --rounds 1-19:2 \
        --set "experiment.controls=[reinit, signed_reinit, signed_constant]" --quiet ;;
    fc)
      $tl run --preset frankle-carbin --seeds 0 1 2 --out runs/study-frankle-carbin --quiet ;;
    trunk2)
      $tl run --preset seed "${seeds[@]}" --set "transfer.datasets=[]" \
        --out runs/study2-trunk --quiet ;;
    fmnist-trunk2)
      $tl run --preset seed "${seeds[@]}" --set data.dataset=fashion_mnist \
        --set "transfer.datasets=[]" --out runs/study2-fmnist-trunk --quiet ;;
    fixed2)
      $tl run --preset seed "${seeds[@]}" --set "transfer.datasets=[]" \
        --set experiment.data_order=fixed --out runs/study2-fixed --quiet ;;
    supermasks)
      $tl supermasks runs/study2-trunk ;;
    criteria)
      for c in magnitude_increase large_final_same_sign; do
        $tl run --preset sources --set "experiment.mask_sources=[]" \
          --set "prune.criterion=$c" --out "runs/criterion-$c" --quiet
      done ;;
    precision)
      for p in fp32 bf16; do
        $tl run --preset seed "${seeds[@]}" --set "transfer.datasets=[]" \
          --set "train.precision=$p" --out "runs/precision-$p" --quiet
      done ;;
    length)
      adam3="{optimizer: adam, lr: 0.0012, batch_size: 128, epochs: 3, eval_every: 215}"
      adam40="{optimizer: adam, lr: 0.0012, batch_size: 128, epochs: 40, eval_every: 215}"
      sgd40="{optimizer: sgd, lr: 0.01, batch_size: 128, epochs: 40, eval_every: 215}"
      for ds in fashion_mnist cifar10; do
        $tl branch runs/study2-trunk --name "length-$ds" --rounds 0-20:4 \
          --set "transfer.datasets=[$ds]" \
          --set "transfer.settings=[$adam3, $adam40, $sgd, $sgd40]" \
          --set "experiment.controls=[reinit, signed_reinit, reshuffle]" --quiet
      done ;;
    scale)
      sgd40="{optimizer: sgd, lr: 0.01, batch_size: 128, epochs: 40, eval_every: 215}"
      for ds in fashion_mnist cifar10 maxgroup; do
        $tl branch runs/study2-trunk --name "scale-$ds" --rounds 0-20:4 \
          --set "transfer.datasets=[$ds]" --set "transfer.settings=[$sgd, $sgd40]" \
          --set "experiment.controls=[reinit, scaled_reinit, reshuffle, signed_reshuffle, signed_constant]" \
          --quiet
      done ;;
    sources)
      $tl run --preset sources --out runs/sources --quiet ;;
    learned)
      $tl run --preset sources --set "experiment.mask_sources=[edgepopup, biprop]" \
        --set "experiment.controls=[reinit]" --out runs/learned --quiet ;;
    learned-transfer)
      $tl branch runs/learned --name learned-fmnist --rounds 1-9:2 \
        --set "transfer.datasets=[fashion_mnist]" --quiet ;;
    supermasks-learned)
      $tl supermasks runs/study2-trunk --learned
      $tl supermasks runs/study2-trunk --learned bernoulli --score-lr 100 ;;
    sources-conv)
      $tl run --preset quick-conv \
        --set "experiment.mask_sources=[snip, synflow, random, earlybird, edgepopup]" \
        --set "experiment.controls=[reinit, random_mask, inverted]" \
        --set experiment.earlybird_window=2 --out runs/sources-conv --quiet ;;
    width)
      $tl width --out runs/width --widths 1 2 4 8 --deep-widths 1 2 4 \
        --inits kaiming_normal --epochs 20 --quiet ;;
    width-pilot)
      $tl width --out runs/width-5ep --widths 1 2 --deep-widths 1 \
        --inits kaiming_normal --epochs 5 --quiet
      .venv/bin/python scripts/width_pilot.py runs/width-5ep runs/width ;;
    width-full)
      # The issue's whole MLP plan into the same folder (it adds the cells runs/width lacks):
      # width 16, twice the depth at 8, signed Kaiming constant. A GPU's work: on this CPU
      # about 45 more core-hours at 20 epochs.
      $tl width --out runs/width --widths 1 2 4 8 16 --deep-widths 1 2 4 8 \
        --inits kaiming_normal signed_constant --epochs 20 --device cuda --quiet ;;
    width-conv)
      $tl width --out runs/width-conv2 --model conv2 --widths 1 2 4 8 --device cuda --quiet ;;
    specific)
      for pair in study2-trunk:mnist:fashion_mnist study2-fmnist-trunk:fashion_mnist:mnist; do
        IFS=: read -r run own other <<< "$pair"
        $tl branch "runs/$run" --name specific-other --rounds 0-20:4 \
          --set "transfer.datasets=[$other]" --set "transfer.settings=[$adam, $sgd]" --quiet
        $tl branch "runs/$run" --name specific-own-sgd --rounds 0-20:4 \
          --set "transfer.datasets=[$own]" --set "transfer.settings=[$sgd]" --quiet
      done ;;
    progress)
      # Snapshots of the runs still going, for a machine that starts without runs/: the
      # width test's rows and plan, and each unfinished branch's small files with its journal
      # (docs/guide/run-directory.md). `restore` puts them back.
      rm -rf results/progress
      if [ -f runs/width/width.json ] && [ ! -f runs/width/width.png ]; then
        mkdir -p results/progress/width
        cp runs/width/width.json runs/width/width-run.json runs/width/width.md results/progress/width/
      fi
      for b in runs/*/branches/*; do
        [ -f "$b/records.jsonl" ] || continue
        ! grep -qs '"outcome": "complete"' "$b/run.json" || continue
        d="results/progress/${b#runs/}"
        mkdir -p "$d"
        cp "$b"/branch.json "$b"/config.yaml "$b"/run.json "$b"/checksums.json "$d"/
        gzip -9 -n -c "$b/records.jsonl" > "$d/records.jsonl.gz"
      done ;;
    restore)
      # The snapshots of `progress` back into runs/ where runs/ lacks them. A branch needs its
      # trunk in runs/ first: run the trunk's own command at its commit (results/README.md
      # names both); `restore` checks its records equal the committed export.
      if [ -d results/progress/width ] && [ ! -d runs/width ]; then
        mkdir -p runs/width && cp results/progress/width/* runs/width/
      fi
      for d in results/progress/*/branches/*; do
        [ -d "$d" ] || continue
        rel="${d#results/progress/}"
        trunk="runs/${rel%%/branches/*}"
        [ ! -d "runs/$rel" ] || continue
        [ -f "$trunk/config.yaml" ] || { echo "restore: $trunk is missing: run it first" >&2; exit 2; }
        # Never a branch on another trunk: the re-run must have trained the same numbers.
        .venv/bin/python scripts/same_records.py "$trunk" "results/${trunk#runs/}/export" \
          || { echo "restore: $trunk differs from its records; not restoring $rel" >&2; exit 2; }
        mkdir -p "runs/$rel" && cp "$d"/*.json "$d"/config.yaml "runs/$rel"/
        gunzip -c "$d/records.jsonl.gz" > "runs/$rel/records.jsonl"
        $tl verify "$trunk" --repair >/dev/null || true
        $tl verify "$trunk" 2>&1 | tail -1
      done ;;
    records|record:*)
      runs=(study-trunk study-fixed study-frankle-carbin study2-trunk study2-trunk-rerun
        study2-fmnist-trunk study2-fixed precision-fp32 precision-bf16 sources-conv learned
        sources criterion-magnitude_increase criterion-large_final_same_sign width)
      [ "$step" = records ] || runs=("${step#record:}")
      for run in "${runs[@]}"; do
        [ "$run" != width ] || continue  # not a run directory: below
        # NAME-rerun (NAME-rerun2, ...): the records of runs/NAME re-run on another machine,
        # beside NAME's own (scripts/same_records.py checked it trained the same numbers).
        src="runs/${run%%-rerun*}"
        [ -f "$src/config.yaml" ] || continue
        # Only finished runs become records (a branch may still be running beside them).
        grep -q '"outcome": "complete"' "$src/run.json" || continue
        # Never drop records: a run re-made on another machine lacks the branches recorded
        # from the first; its records go beside them, as NAME-rerun.
        lost=$(.venv/bin/python scripts/same_records.py --branches "$src" "results/$run/export")
        if [ -n "$lost" ]; then
          echo "record:$run: results/$run holds branches $src lacks ($lost): records of" \
            "this run go to results/$run-rerun (scripts/study.sh record:$run-rerun)" >&2
          if [ "$step" = records ]; then continue; fi
          exit 2
        fi
        rm -rf "results/$run"
        $tl report "$src" >/dev/null
        $tl export "$src" --to "results/$run/export" >/dev/null
        gzip -9 -n "results/$run/export/evals.csv"  # the largest record: keep results/ small
        mkdir -p "results/$run/figures"
        cp "$src/report.md" "results/$run/"
        if [ -f "$src/supermasks.json" ]; then cp "$src/supermasks.json" "results/$run/"; fi
        cp "$src"/figures/*.png "results/$run/figures/"
        git rev-parse HEAD > "results/$run/commit.txt"
      done
      # IMP's three criteria paired by seed and level: the sources run's large_final and the
      # two criteria runs (one commit, seeds and schedule). Its figure links are pointed at
      # the runs' records above.
      if [[ " ${runs[*]} " == *" sources "* ]] \
          && grep -qs '"outcome": "complete"' runs/sources/run.json; then
        rm -rf results/criteria-vs-imp
        $tl report runs/sources runs/criterion-magnitude_increase \
          runs/criterion-large_final_same_sign --out results/criteria-vs-imp >/dev/null
        rm results/criteria-vs-imp/report.html
        sed -i 's|](\.\./\.\./runs/|](../|' results/criteria-vs-imp/report.md
        git rev-parse HEAD > results/criteria-vs-imp/commit.txt
      fi
      # The width test: its rows, page, plan and figure (drawn once the command completes).
      if [[ " ${runs[*]} " == *" width "* ]] && [ -f runs/width/width.png ]; then
        rm -rf results/width && mkdir -p results/width
        cp runs/width/width.json runs/width/width.md runs/width/width-run.json \
          runs/width/width.png results/width/
      fi ;;
    *)
      echo "unknown step $step: the steps are listed at the top of $0" >&2
      exit 2 ;;
  esac
done
