set terminal pngcairo noenhanced size 1450,500 font 'sans,10'
set output 'docs/tiktok_encoder_rank_sweep.png'
set multiplot layout 1,3 title 'tiktok (validation split): sensitivity to train.encoder_rank_weight'
set xlabel 'train.encoder_rank_weight'
set key bottom right
set grid
set ylabel 'Recall@20'
plot 'docs/eval/gnuplot/tiktok_encoder_rank_sweep.dat' index 0 using 1:2:3 with yerrorlines lw 2 title 'VASG'
set ylabel 'AUC warm'
plot 'docs/eval/gnuplot/tiktok_encoder_rank_sweep.dat' index 0 using 1:4:5 with yerrorlines lw 2 title 'VASG'
set ylabel 'AUC cold among cold'
plot 'docs/eval/gnuplot/tiktok_encoder_rank_sweep.dat' index 0 using 1:6:7 with yerrorlines lw 2 title 'VASG'
unset multiplot
