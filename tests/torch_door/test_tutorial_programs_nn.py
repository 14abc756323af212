"""Whole training programs in the style of PyTorch's nn tutorials and pytorch/examples (LeNet from
the blitz, "What is torch.nn really?", the char-RNN classifier, mnist/main.py, the
word_language_model's RNNModel and TransformerModel, save and load), run unchanged but for the
imports under torch and chainrule; the printed losses must agree (tutorial_runner replays torch's
initial weights and dropout masks). Skipped where torch is not installed.
"""

from __future__ import annotations

import pytest
from tutorial_runner import run_both

pytest.importorskip("torch")


def test_blitz_lenet_backward_with_random_gradients_then_mse_and_sgd() -> None:
    run_both('''
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim

class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(-1, self.num_flat_features(x))
        return self.fc2(F.relu(self.fc1(x)))

    def num_flat_features(self, x):
        num_features = 1
        for s in x.size()[1:]:
            num_features *= s
        return num_features

net = Net()
__hook__(net)
params = list(net.parameters())
print(len(params), params[0].size())
input = torch.randn(1, 1, 32, 32)
out = net(input)
net.zero_grad()
out.backward(torch.randn(1, 10))
target = torch.arange(1, 11).view(1, -1)     # an int64 target for a float output
criterion = nn.MSELoss()
loss = criterion(net(input), target)
net.zero_grad()
print(net.conv1.bias.grad)
loss.backward()
print(loss, net.conv1.bias.grad)
for f in net.parameters():
    f.data.sub_(f.grad.data * 0.01)
optimizer = optim.SGD(net.parameters(), lr=0.01)
optimizer.zero_grad()
loss = criterion(net(input), target)
loss.backward()
optimizer.step()
print(loss.item(), net(input))
''')


def test_what_is_torch_nn_really_from_scratch_to_dataloader_and_cnn() -> None:
    run_both('''
import math
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn, optim
from torch.utils.data import DataLoader, TensorDataset

rng = np.random.default_rng(0)
x_train, y_train, x_valid, y_valid = map(torch.tensor, (
    rng.random((192, 784), dtype=np.float32), rng.integers(0, 10, 192),
    rng.random((64, 784), dtype=np.float32), rng.integers(0, 10, 64)))
n, c = x_train.shape
weights = torch.randn(784, 10) / math.sqrt(784)
weights.requires_grad_()
bias = torch.zeros(10, requires_grad=True)

def log_softmax(x):
    return x - x.exp().sum(-1).log().unsqueeze(-1)

def model(xb):
    return log_softmax(xb @ weights + bias)

def nll(input, target):
    return -input[range(target.shape[0]), target].mean()

def accuracy(out, yb):
    return (torch.argmax(out, dim=1) == yb).float().mean()

bs, lr, epochs = 64, 0.5, 2
for epoch in range(epochs):
    for i in range((n - 1) // bs + 1):
        xb, yb = x_train[i * bs:i * bs + bs], y_train[i * bs:i * bs + bs]
        loss = nll(model(xb), yb)
        loss.backward()
        with torch.no_grad():
            weights -= weights.grad * lr
            bias -= bias.grad * lr
            weights.grad.zero_()
            bias.grad.zero_()
print(nll(model(xb), yb), accuracy(model(xb), yb), F.cross_entropy(xb @ weights + bias, yb))

def loss_batch(model, loss_func, xb, yb, opt=None):
    loss = loss_func(model(xb), yb)
    if opt is not None:
        loss.backward()
        opt.step()
        opt.zero_grad()
    return loss.item(), len(xb)

def fit(epochs, model, loss_func, opt, train_dl, valid_dl):
    for epoch in range(epochs):
        model.train()
        for xb, yb in train_dl:
            loss_batch(model, loss_func, xb, yb, opt)
        model.eval()
        with torch.no_grad():
            losses, nums = zip(*[loss_batch(model, loss_func, xb, yb) for xb, yb in valid_dl])
        print(epoch, np.sum(np.multiply(losses, nums)) / np.sum(nums))

class Lambda(nn.Module):
    def __init__(self, func):
        super().__init__()
        self.func = func

    def forward(self, x):
        return self.func(x)

train_dl = DataLoader(TensorDataset(x_train, y_train), batch_size=bs)
valid_dl = DataLoader(TensorDataset(x_valid, y_valid), batch_size=bs * 2)
model = nn.Sequential(
    Lambda(lambda x: x.view(-1, 1, 28, 28)),
    nn.Conv2d(1, 16, kernel_size=3, stride=2, padding=1), nn.ReLU(),
    nn.Conv2d(16, 10, kernel_size=3, stride=2, padding=1), nn.ReLU(),
    nn.AdaptiveAvgPool2d(1),
    Lambda(lambda x: x.view(x.size(0), -1)),
)
__hook__(model)
opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
fit(epochs, model, F.cross_entropy, opt, train_dl, valid_dl)
''')


def test_char_rnn_classifier_one_letter_at_a_time() -> None:
    run_both('''
import random
import string
import torch
import torch.nn as nn
import torch.nn.functional as F

all_letters = string.ascii_letters + " .,;'"
n_letters = len(all_letters)
all_categories = ['Italian', 'German', 'Czech']
category_lines = {c: [''.join(random.choice(string.ascii_lowercase[k * 8:k * 8 + 8])
                              for _ in range(5)) for _ in range(20)]
                  for k, c in enumerate(all_categories)}

def lineToTensor(line):
    tensor = torch.zeros(len(line), 1, n_letters)
    for li, letter in enumerate(line):
        tensor[li][0][all_letters.find(letter)] = 1
    return tensor

class RNN(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super(RNN, self).__init__()
        self.hidden_size = hidden_size
        self.i2h = nn.Linear(input_size, hidden_size)
        self.h2h = nn.Linear(hidden_size, hidden_size)
        self.h2o = nn.Linear(hidden_size, output_size)
        self.softmax = nn.LogSoftmax(dim=1)

    def forward(self, input, hidden):
        hidden = F.tanh(self.i2h(input) + self.h2h(hidden))
        return self.softmax(self.h2o(hidden)), hidden

    def initHidden(self):
        return torch.zeros(1, self.hidden_size)

rnn = RNN(n_letters, 32, len(all_categories))
__hook__(rnn)
criterion = nn.NLLLoss()
for it in range(60):
    category = random.choice(all_categories)
    line = random.choice(category_lines[category])
    category_tensor = torch.tensor([all_categories.index(category)], dtype=torch.long)
    line_tensor = lineToTensor(line)
    hidden = rnn.initHidden()
    rnn.zero_grad()
    for i in range(line_tensor.size()[0]):
        output, hidden = rnn(line_tensor[i], hidden)
    loss = criterion(output, category_tensor)
    loss.backward()
    for p in rnn.parameters():
        p.data.add_(p.grad.data, alpha=-0.005)
    if it % 20 == 19:
        top_n, top_i = output.topk(1)
        print(it, loss.item(), top_i[0].item())
with torch.no_grad():
    topv, topi = output.topk(3, 1, True)
print(topv, topi)
''')


MNIST_MAIN = '''
import argparse
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.optim.lr_scheduler import StepLR

class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.fc1 = nn.Linear(8 * 13 * 13, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = torch.flatten(self.dropout1(x), 1)
        return F.log_softmax(self.fc1(x), dim=1)

def train(args, model, device, train_loader, optimizer, epoch):
    model.train()
    for batch_idx, (data, target) in enumerate(train_loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        loss = F.nll_loss(model(data), target)
        loss.backward()
        optimizer.step()
        if batch_idx % args.log_interval == 0:
            print('Train Epoch: {} [{}/{}]\\tLoss: {:.6f}'.format(
                epoch, batch_idx * len(data), len(train_loader.dataset), loss.item()))

def test(model, device, test_loader):
    model.eval()
    test_loss, correct = 0, 0
    with torch.no_grad():
        for data, target in test_loader:
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction='sum').item()
            pred = output.argmax(dim=1, keepdim=True)
            correct += pred.eq(target.view_as(pred)).sum().item()
    print('Test set: Average loss: {:.4f}, Accuracy: {}'.format(
        test_loss / len(test_loader.dataset), correct))

def main():
    parser = argparse.ArgumentParser(description='PyTorch MNIST Example')
    parser.add_argument('--epochs', type=int, default=14)
    parser.add_argument('--lr', type=float, default=1.0)
    parser.add_argument('--gamma', type=float, default=0.7)
    parser.add_argument('--log-interval', type=int, default=10)
    args = parser.parse_args()
    torch.manual_seed(1)
    device = torch.device("cpu")
    g = torch.Generator().manual_seed(0)
    dataset1 = torch.utils.data.TensorDataset(
        (torch.rand(128, 1, 28, 28, generator=g) - 0.1307) / 0.3081,
        torch.randint(0, 10, (128,), generator=g))
    train_loader = torch.utils.data.DataLoader(dataset1, batch_size=32)
    test_loader = torch.utils.data.DataLoader(dataset1, batch_size=64)
    model = Net().to(device)
    __hook__(model)
    optimizer = optim.Adadelta(model.parameters(), lr=args.lr)
    scheduler = StepLR(optimizer, step_size=1, gamma=args.gamma)
    for epoch in range(1, args.epochs + 1):
        train(args, model, device, train_loader, optimizer, epoch)
        test(model, device, test_loader)
        scheduler.step()
    print(scheduler.get_last_lr())

if __name__ == '__main__':
    main()
'''


def test_examples_mnist_main_with_argparse_adadelta_steplr_and_dropout() -> None:
    run_both(MNIST_MAIN, argv=["--epochs", "2", "--log-interval", "2"])


WORD_LANGUAGE_MODEL = '''
import math
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

class RNNModel(nn.Module):
    def __init__(self, rnn_type, ntoken, ninp, nhid, nlayers, dropout=0.5, tie_weights=False):
        super(RNNModel, self).__init__()
        self.ntoken = ntoken
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = getattr(nn, rnn_type)(ninp, nhid, nlayers, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)
        if tie_weights:
            self.decoder.weight = self.encoder.weight
        nn.init.uniform_(self.encoder.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)
        self.rnn_type, self.nhid, self.nlayers = rnn_type, nhid, nlayers

    def forward(self, input, hidden):
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        decoded = self.decoder(self.drop(output)).view(-1, self.ntoken)
        return F.log_softmax(decoded, dim=1), hidden

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        if self.rnn_type == 'LSTM':
            return (weight.new_zeros(self.nlayers, bsz, self.nhid),
                    weight.new_zeros(self.nlayers, bsz, self.nhid))
        return weight.new_zeros(self.nlayers, bsz, self.nhid)

class TransformerModel(nn.Transformer):
    def __init__(self, ntoken, ninp, nhead, nhid, nlayers):
        super(TransformerModel, self).__init__(d_model=ninp, nhead=nhead, dim_feedforward=nhid,
                                               num_encoder_layers=nlayers)
        self.input_emb = nn.Embedding(ntoken, ninp)
        self.ninp = ninp
        self.decoder = nn.Linear(ninp, ntoken)

    def forward(self, src):
        mask = torch.log(torch.tril(torch.ones(len(src), len(src))))   # 0 and -inf
        src = self.input_emb(src) * math.sqrt(self.ninp)
        return F.log_softmax(self.decoder(self.encoder(src, mask=mask)), dim=-1)

def repackage_hidden(h):
    if isinstance(h, torch.Tensor):
        return h.detach()
    return tuple(repackage_hidden(v) for v in h)

ntokens, bptt = 30, 10
data = torch.tensor(np.random.default_rng(0).integers(0, ntokens, 400))
train_data = data.narrow(0, 0, 400).view(8, -1).t().contiguous()
criterion = nn.NLLLoss()
for kind, tied in [('LSTM', False), ('GRU', True), ('Transformer', False)]:
    if kind == 'Transformer':
        model = TransformerModel(ntokens, 16, 2, 32, 2)
    else:
        model = RNNModel(kind, ntokens, 16, 16, 2, 0.2, tied)
        hidden = model.init_hidden(8)
    __hook__(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3) if kind == 'Transformer' else None
    model.train()
    for batch, i in enumerate(range(0, 30, bptt)):
        src, targets = train_data[i:i + bptt], train_data[i + 1:i + 1 + bptt].reshape(-1)
        model.zero_grad()
        if kind == 'Transformer':
            output = model(src).view(-1, ntokens)
        else:
            hidden = repackage_hidden(hidden)
            output, hidden = model(src, hidden)
        loss = criterion(output, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
        if optimizer is not None:
            optimizer.step()
        else:
            for p in model.parameters():
                p.data.add_(p.grad, alpha=-20)
        print(kind, batch, loss.item())
    model.eval()
    with torch.no_grad():
        out = model(src) if kind == 'Transformer' else model(src, hidden)[0]
    print(kind, 'eval', out.sum().item())
'''


def test_examples_word_language_model_rnn_and_transformer_steps() -> None:
    # the model's own nn.Dropout masks are replayed from torch's run, the dropout inside a
    # two-layer nn.LSTM / nn.GRU cannot be: that one is off here (the layer's default, 0)
    rnn_line = "self.rnn = getattr(nn, rnn_type)(ninp, nhid, nlayers, dropout=dropout)"
    assert rnn_line in WORD_LANGUAGE_MODEL
    run_both(WORD_LANGUAGE_MODEL.replace(
        rnn_line, "self.rnn = getattr(nn, rnn_type)(ninp, nhid, nlayers)"))

